//! Profile images: accepted by content (JPEG, PNG, WebP), refused above 40
//! megapixels before any pixel is decoded, turned upright by their EXIF
//! orientation, shrunk to a sensible size and re-encoded, which drops
//! EXIF/GPS and any other metadata the upload carried.

use std::io::Cursor;

use bytes::Bytes;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::config::MediaConfig;
use crate::error::{ApiError, ApiResult};
use crate::heavy::HeavyJobs;

pub struct CleanImage {
    pub data: Bytes,
    pub extension: &'static str,
}

/// Checks and re-encodes an upload, as a heavy job.
pub async fn clean(heavy: &HeavyJobs, cfg: &MediaConfig, upload: Bytes) -> ApiResult<CleanImage> {
    let (max_pixels, max_side) = (cfg.image_max_pixels, cfg.image_max_side);
    heavy
        .run(move || reencode(&upload, max_pixels, max_side))
        .await?
}

fn reencode(data: &[u8], max_pixels: u64, max_side: u32) -> ApiResult<CleanImage> {
    // the most memory one decode may take: the largest image, as 8-bit RGBA
    let max_decode_bytes = max_pixels * 4;
    let invalid = || ApiError::validation("profile_image: must be a JPEG, PNG or WebP image");
    let (format, extension) = match image::guess_format(data).map_err(|_| invalid())? {
        ImageFormat::Jpeg => (ImageFormat::Jpeg, "jpg"),
        ImageFormat::Png => (ImageFormat::Png, "png"),
        ImageFormat::WebP => (ImageFormat::WebP, "webp"),
        _ => return Err(invalid()),
    };
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_decode_bytes);
    reader.limits(limits);
    // the header alone tells the size: a decompression bomb is refused unread
    let mut decoder = reader.into_decoder().map_err(|_| invalid())?;
    let (width, height) = decoder.dimensions();
    let megapixels = max_pixels / 1_000_000;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ApiError::validation(format!(
            "profile_image: at most {megapixels} megapixels"
        )));
    }
    if decoder.total_bytes() > max_decode_bytes {
        return Err(ApiError::validation(format!(
            "profile_image: at most {megapixels} megapixels of 8-bit color"
        )));
    }
    // an unreadable EXIF block is no reason to refuse the picture
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|_| invalid())?;
    if img.width() > max_side || img.height() > max_side {
        img = img.resize(max_side, max_side, image::imageops::FilterType::Triangle);
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
