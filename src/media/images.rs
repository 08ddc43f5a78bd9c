//! Profile images: accepted by content (JPEG, PNG, WebP), refused above 40
//! megapixels before any pixel is decoded, turned upright by their EXIF
//! orientation, shrunk to a sensible size and re-encoded, which drops
//! EXIF/GPS and any other metadata the upload carried.

use std::io::Cursor;

use bytes::Bytes;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::{ApiError, ApiResult};
use crate::heavy::HeavyJobs;

pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// Largest image accepted, in pixels (SPEC: 40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Longest side kept; larger images are scaled down.
const MAX_SIDE: u32 = 1024;
/// Most memory one decode may take: 40 MP of 8-bit RGBA.
const MAX_DECODE_BYTES: u64 = MAX_PIXELS * 4;

pub struct CleanImage {
    pub data: Bytes,
    pub extension: &'static str,
}

/// Checks and re-encodes an upload, as a heavy job.
pub async fn clean(heavy: &HeavyJobs, upload: Bytes) -> ApiResult<CleanImage> {
    heavy.run(move || reencode(&upload)).await?
}

fn reencode(data: &[u8]) -> ApiResult<CleanImage> {
    let invalid = || ApiError::validation("profile_image: must be a JPEG, PNG or WebP image");
    let (format, extension) = match image::guess_format(data).map_err(|_| invalid())? {
        ImageFormat::Jpeg => (ImageFormat::Jpeg, "jpg"),
        ImageFormat::Png => (ImageFormat::Png, "png"),
        ImageFormat::WebP => (ImageFormat::WebP, "webp"),
        _ => return Err(invalid()),
    };
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    // the header alone tells the size: a decompression bomb is refused unread
    let mut decoder = reader.into_decoder().map_err(|_| invalid())?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ApiError::validation("profile_image: at most 40 megapixels"));
    }
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(ApiError::validation(
            "profile_image: at most 40 megapixels of 8-bit color",
        ));
    }
    // an unreadable EXIF block is no reason to refuse the picture
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|_| invalid())?;
    if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        img = img.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
    }
    // phones store portraits sideways with an EXIF note; the note is dropped below
    img.apply_orientation(orientation);
    if format == ImageFormat::Jpeg {
        img = DynamicImage::ImageRgb8(img.to_rgb8());
    }
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| ApiError::Internal(format!("image encode: {e}")))?;
    Ok(CleanImage {
        data: out.into_inner().into(),
        extension,
    })
}
