//! Every node's cleanup of expired broadcasts' voice files.

use crate::error::ApiResult;
use crate::media::uploads;
use crate::state::AppState;

/// Removes the voice files of expired broadcasts, every `MEDIA_CLEANUP_INTERVAL_SEC`.
pub fn spawn_cleanup(state: AppState, stop: tokio::sync::watch::Receiver<bool>) {
    let period = std::time::Duration::from_secs(state.cfg.talk.cleanup_interval_sec.max(1));
    crate::tasks::every(period, stop, move || {
        let state = state.clone();
        async move {
            if let Err(e) = clean_expired(&state).await {
                tracing::warn!(error = %e, "broadcast cleanup failed");
            }
        }
    });
}

/// Marks expired broadcasts inactive and deletes their files; returns how many.
pub async fn clean_expired(state: &AppState) -> ApiResult<usize> {
    let keys = super::store::expire(&state.db).await?;
    uploads::delete_files(state, &keys).await;
    Ok(keys.len())
}
