//! Every node's reaper of idle calls, and the heartbeats of the calls of
//! users holding a WebSocket on this node.

use std::time::Duration;

use tokio::sync::watch;

use super::store;
use crate::state::AppState;
use crate::tasks::every;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) {
    let s = state.clone();
    every(Duration::from_secs(1), stop.clone(), move || {
        let s = s.clone();
        async move {
            if let Err(e) = store::reap(&s).await {
                tracing::warn!(error = %e, "call reaper failed");
            }
        }
    });
    let period = Duration::from_millis((state.cfg.calls.idle_timeout_sec * 1000 / 3).max(200));
    every(period, stop, move || {
        let s = state.clone();
        async move {
            let users = s.hub.local_websocket_users();
            if !users.is_empty()
                && let Err(e) = store::heartbeat(&s, &users).await
            {
                tracing::warn!(error = %e, "call heartbeat failed");
            }
        }
    });
}
