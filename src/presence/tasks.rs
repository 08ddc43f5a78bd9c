//! Every node renews, once a `PRESENCE_REFRESH_SEC`, the presence of the
//! users holding a WebSocket or SSE stream on it (one pipeline a tick).

use std::time::Duration;

use tokio::sync::watch;

use super::store;
use crate::state::AppState;
use crate::tasks::every;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) {
    let period = Duration::from_secs(state.cfg.push.presence_refresh_sec);
    every(period, stop, move || {
        let state = state.clone();
        async move {
            let users = state.hub.local_stream_users();
            if let Err(e) = store::claim(&state, &users).await {
                tracing::warn!(error = %e, "presence refresh failed");
            }
        }
    });
}
