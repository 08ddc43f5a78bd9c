//! Storing what users upload: profile images (cleaned and re-encoded) and
//! voice files (checked, kept unchanged), and removing files nothing refers
//! to any more.

use bytes::Bytes;

use super::{PROFILE_DIR, VOICE_DIR, images, voice};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::session::random_id;
use crate::state::AppState;

/// Cleans an uploaded image and stores it; returns its storage key.
pub async fn store_image(state: &AppState, upload: Bytes) -> ApiResult<String> {
    let image = images::clean(&state.heavy, &state.cfg.media, upload).await?;
    let key = format!("{PROFILE_DIR}/{}.{}", random_id(), image.extension);
    put(state, &key, image.data).await?;
    Ok(key)
}

/// Describes the multipart form of voice uploads for OpenAPI; the handlers
/// read the parts themselves (`voice_upload`).
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct VoiceForm {
    /// AAC, M4A, MP3, Ogg, WAV or WebM; at most 10 MB and 60 s.
    #[schema(value_type = String, format = Binary)]
    voice_file: Vec<u8>,
}

/// The `voice_file` part of a multipart body, checked and stored unchanged;
/// returns it and its storage key.
pub async fn voice_upload(state: &AppState, body: Body) -> ApiResult<(voice::Voice, String)> {
    let media = &state.cfg.media;
    let mut form = body
        .multipart(&["voice_file"], media.voice_max_bytes)
        .await?;
    let upload = form
        .files
        .remove("voice_file")
        .filter(|u| !u.data.is_empty())
        .ok_or_else(|| ApiError::validation("voice_file: required"))?;
    let checked = voice::check(&state.heavy, media.voice_max_duration_ms, upload.data).await?;
    let key = format!("{VOICE_DIR}/{}.{}", random_id(), checked.format.extension());
    put(state, &key, checked.data.clone()).await?;
    Ok((checked, key))
}

async fn put(state: &AppState, key: &str, data: Bytes) -> ApiResult<()> {
    state
        .storage
        .put(key, data)
        .await
        .map_err(|e| ApiError::Internal(format!("media write: {e}")))
}

/// Deletes stored files that nothing refers to any more.
pub async fn delete_files(state: &AppState, keys: &[String]) {
    for key in keys {
        if let Err(e) = state.storage.delete(key).await {
            tracing::warn!(%key, error = %e, "could not delete media");
        }
    }
}
