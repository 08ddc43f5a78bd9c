//! Serving stored files: profile images to anyone, voice files through the
//! routes that check who may hear them (broadcasts, conversations).

use warp::reply::Response;

use super::{PROFILE_DIR, voice};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The bytes of a voice file, as uploaded (never cached by intermediaries).
pub async fn serve_voice(state: &AppState, key: &str) -> ApiResult<Response> {
    let content_type = key
        .rsplit('.')
        .next()
        .and_then(voice::VoiceFormat::from_extension)
        .map_or("application/octet-stream", voice::VoiceFormat::content_type);
    serve(state, key, content_type, "private, no-store").await
}

#[utoipa::path(get, path = "/media/profiles/{name}", tag = "media", operation_id = "profile_image",
    description = "A profile image, as `profile_image` URLs name it; public, cached for good.",
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "The image (JPEG, PNG or WebP)"),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn profile_image(state: AppState, name: String) -> ApiResult<Response> {
    let content_type = match name.rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    let key = format!("{PROFILE_DIR}/{name}");
    serve(
        &state,
        &key,
        content_type,
        "public, max-age=31536000, immutable",
    )
    .await
}

/// A stored file as a response; 404 when there is none.
async fn serve(
    state: &AppState,
    key: &str,
    content_type: &'static str,
    cache: &'static str,
) -> ApiResult<Response> {
    let data = state
        .storage
        .get(key)
        .await
        .map_err(|e| ApiError::Internal(format!("media read: {e}")))?
        .ok_or(ApiError::NotFound)?;
    let mut res = Response::new(data.into());
    let headers = res.headers_mut();
    headers.insert(
        "content-type",
        warp::http::HeaderValue::from_static(content_type),
    );
    headers.insert("cache-control", warp::http::HeaderValue::from_static(cache));
    headers.insert(
        "x-content-type-options",
        warp::http::HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
