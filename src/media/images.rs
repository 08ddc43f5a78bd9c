//! Profile images: accepted by content (JPEG, PNG, WebP), decoded within
//! limits, shrunk to a sensible size and re-encoded, which drops EXIF/GPS
//! and any other metadata the upload carried.

use std::io::Cursor;

use bytes::Bytes;
use image::{ImageFormat, ImageReader, Limits};

use crate::error::{ApiError, ApiResult};

pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// Longest side kept; larger images are scaled down.
const MAX_SIDE: u32 = 1024;

pub struct CleanImage {
    pub data: Bytes,
    pub extension: &'static str,
    pub content_type: &'static str,
}

/// Checks and re-encodes an upload. Runs on the blocking pool.
pub async fn clean(upload: Bytes) -> ApiResult<CleanImage> {
    tokio::task::spawn_blocking(move || reencode(&upload))
        .await
        .map_err(|e| ApiError::Internal(format!("image task: {e}")))?
}

fn reencode(data: &[u8]) -> ApiResult<CleanImage> {
    let invalid = || ApiError::validation("profile_image: must be a JPEG, PNG or WebP image");
    let format = image::guess_format(data).map_err(|_| invalid())?;
    let (format, extension, content_type) = match format {
        ImageFormat::Jpeg => (ImageFormat::Jpeg, "jpg", "image/jpeg"),
        ImageFormat::Png => (ImageFormat::Png, "png", "image/png"),
        ImageFormat::WebP => (ImageFormat::WebP, "webp", "image/webp"),
        _ => return Err(invalid()),
    };
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let mut img = reader.decode().map_err(|_| invalid())?;
    if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        img = img.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
    }
    if format == ImageFormat::Jpeg {
        img = image::DynamicImage::ImageRgb8(img.to_rgb8());
    }
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| ApiError::Internal(format!("image encode: {e}")))?;
    Ok(CleanImage {
        data: out.into_inner().into(),
        extension,
        content_type,
    })
}
