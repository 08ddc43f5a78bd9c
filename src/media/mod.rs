//! Uploaded media: the storage seam, image cleaning, and the public route
//! that serves profile images.

pub mod images;
pub mod storage;
pub mod voice;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::error::{ApiError, ApiResult};
use crate::http::{respond, with_state};
use crate::state::AppState;

/// Storage key prefix of profile images (served without auth, like any avatar).
pub const PROFILE_DIR: &str = "profiles";

/// Storage key prefix of voice files (served only through authorised routes).
pub const VOICE_DIR: &str = "voices";

/// Checks a voice upload and stores it unchanged; returns it and its key.
pub async fn save_voice(state: &AppState, data: bytes::Bytes) -> ApiResult<(voice::Voice, String)> {
    let checked = voice::check(&state.heavy, data).await?;
    let key = format!(
        "{VOICE_DIR}/{}.{}",
        crate::auth::tokens::random_id(),
        checked.format.extension()
    );
    state
        .storage
        .put(&key, checked.data.clone())
        .await
        .map_err(|e| ApiError::Internal(format!("media write: {e}")))?;
    Ok((checked, key))
}

/// Deletes stored files that nothing refers to any more.
pub async fn delete_files(state: &AppState, keys: &[String]) {
    for key in keys {
        if let Err(e) = state.storage.delete(key).await {
            tracing::warn!(%key, error = %e, "could not delete media");
        }
    }
}

/// The bytes of a voice file, as uploaded (never cached by intermediaries).
pub async fn serve_voice(state: &AppState, key: &str) -> ApiResult<Response> {
    let content_type = key
        .rsplit('.')
        .next()
        .and_then(voice::VoiceFormat::from_extension)
        .map_or("application/octet-stream", voice::VoiceFormat::content_type);
    serve(state, key, content_type, "private, no-store").await
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

/// The URL the app loads for a stored key.
pub fn url(state: &AppState, key: &str) -> String {
    format!("{}/media/{key}", state.public_url)
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("media" / "profiles" / String)
        .and(warp::get())
        .and(with_state(state))
        .then(|name: String, state: AppState| async move {
            respond(profile_image(state, name).await)
        })
        .boxed()
}

async fn profile_image(state: AppState, name: String) -> ApiResult<Response> {
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
