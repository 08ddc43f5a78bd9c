//! Voice files (broadcasts, replies, messages): accepted by content, not by
//! name — AAC (ADTS), M4A, MP3, Ogg (Opus/Vorbis), WAV, WebM — at most 10 MB,
//! and at most 60 s. The container is told by its signature; symphonia then
//! has to find a readable audio track in it. The duration comes from the
//! header when it says (WAV, M4A, Ogg, MP3 with a Xing/Info frame), and
//! otherwise from the packets themselves (ADTS AAC, plain MP3, WebM), which
//! are read without being decoded. The bytes are stored unchanged.

use std::io::Cursor;

use bytes::Bytes;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{ApiError, ApiResult};
use crate::heavy::HeavyJobs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiceFormat {
    Aac,
    M4a,
    Mp3,
    Ogg,
    Wav,
    Webm,
}

impl VoiceFormat {
    /// The container, from the first bytes.
    fn sniff(data: &[u8]) -> Option<Self> {
        let at =
            |offset: usize, magic: &[u8]| data.get(offset..offset + magic.len()) == Some(magic);
        if at(0, b"RIFF") && at(8, b"WAVE") {
            Some(VoiceFormat::Wav)
        } else if at(0, b"OggS") {
            Some(VoiceFormat::Ogg)
        } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
            Some(VoiceFormat::Webm)
        } else if at(4, b"ftyp") {
            Some(VoiceFormat::M4a)
        } else if at(0, b"ID3") {
            Some(VoiceFormat::Mp3)
        } else if data.len() >= 2 && data[0] == 0xFF && data[1] & 0xF6 == 0xF0 {
            // frame sync with layer bits 00: ADTS
            Some(VoiceFormat::Aac)
        } else if data.len() >= 2 && data[0] == 0xFF && data[1] & 0xE0 == 0xE0 {
            Some(VoiceFormat::Mp3)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            VoiceFormat::Aac => "audio/aac",
            VoiceFormat::M4a => "audio/mp4",
            VoiceFormat::Mp3 => "audio/mpeg",
            VoiceFormat::Ogg => "audio/ogg",
            VoiceFormat::Wav => "audio/wav",
            VoiceFormat::Webm => "audio/webm",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            VoiceFormat::Aac => "aac",
            VoiceFormat::M4a => "m4a",
            VoiceFormat::Mp3 => "mp3",
            VoiceFormat::Ogg => "ogg",
            VoiceFormat::Wav => "wav",
            VoiceFormat::Webm => "webm",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        [
            Self::Aac,
            Self::M4a,
            Self::Mp3,
            Self::Ogg,
            Self::Wav,
            Self::Webm,
        ]
        .into_iter()
        .find(|f| f.extension() == ext)
    }
}

/// A checked voice file.
#[derive(Debug)]
pub struct Voice {
    pub format: VoiceFormat,
    /// `None` when the container does not say.
    pub duration_ms: Option<i64>,
    pub data: Bytes,
}

const NOT_AUDIO: &str = "voice_file: must be AAC, M4A, MP3, Ogg, WAV or WebM audio";

/// Checks an upload (at most `max_ms` long); the probe is a heavy job.
pub async fn check(heavy: &HeavyJobs, max_ms: i64, data: Bytes) -> ApiResult<Voice> {
    heavy.run(move || probe(data, max_ms)).await?
}

fn probe(data: Bytes, max_ms: i64) -> ApiResult<Voice> {
    let format = VoiceFormat::sniff(&data).ok_or_else(|| ApiError::validation(NOT_AUDIO))?;
    let mut hint = Hint::new();
    hint.with_extension(format.extension());
    let source = MediaSourceStream::new(Box::new(Cursor::new(data.clone())), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|_| ApiError::validation(NOT_AUDIO))?;
    let mut reader = probed.format;
    let track = reader
        .default_track()
        .ok_or_else(|| ApiError::validation(NOT_AUDIO))?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    let in_header = match (params.n_frames, params.time_base, params.sample_rate) {
        (Some(frames), Some(tb), _) => Some(millis(tb.calc_time(frames))),
        (Some(frames), None, Some(rate)) if rate > 0 => Some(frames as i64 * 1000 / rate as i64),
        _ => None,
    };
    let duration_ms = match in_header {
        Some(ms) => Some(ms),
        None => packet_duration(reader.as_mut(), track_id, params.time_base),
    };
    if duration_ms.is_some_and(|ms| ms > max_ms) {
        return Err(ApiError::validation(format!(
            "voice_file: at most {} seconds",
            max_ms / 1000
        )));
    }
    Ok(Voice {
        format,
        duration_ms,
        data,
    })
}

fn millis(t: symphonia::core::units::Time) -> i64 {
    t.seconds as i64 * 1000 + (t.frac * 1000.0) as i64
}

/// The end of the track's last packet, in ms: what the packets say when the
/// header does not (a stream cut short still counts up to where it ends).
fn packet_duration(
    reader: &mut dyn symphonia::core::formats::FormatReader,
    track: u32,
    time_base: Option<symphonia::core::units::TimeBase>,
) -> Option<i64> {
    let time_base = time_base?;
    let mut end = 0u64;
    while let Ok(packet) = reader.next_packet() {
        if packet.track_id() == track {
            end = end.max(packet.ts() + packet.dur());
        }
    }
    Some(millis(time_base.calc_time(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(
            VoiceFormat::sniff(b"RIFF\0\0\0\0WAVEfmt "),
            Some(VoiceFormat::Wav)
        );
        assert_eq!(VoiceFormat::sniff(b"OggS\0\x02"), Some(VoiceFormat::Ogg));
        assert_eq!(
            VoiceFormat::sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]),
            Some(VoiceFormat::Webm)
        );
        assert_eq!(
            VoiceFormat::sniff(b"\0\0\0\x20ftypM4A "),
            Some(VoiceFormat::M4a)
        );
        assert_eq!(VoiceFormat::sniff(b"ID3\x04"), Some(VoiceFormat::Mp3));
        assert_eq!(
            VoiceFormat::sniff(&[0xFF, 0xF1, 0x50]),
            Some(VoiceFormat::Aac)
        );
        assert_eq!(
            VoiceFormat::sniff(&[0xFF, 0xFB, 0x90]),
            Some(VoiceFormat::Mp3)
        );
        assert_eq!(VoiceFormat::sniff(b"\x89PNG\r\n\x1a\n"), None);
    }
}
