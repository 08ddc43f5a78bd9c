//! Background work of every node: housekeeping of the pool (ghosts, expired
//! decisions, refunds of matches that ended unpaid) and heartbeats for the users listening on this node.

use std::time::Duration;

use tokio::sync::watch;

use super::engine;
use crate::state::AppState;
use crate::tasks::every;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) {
    let s = state.clone();
    let housekeeping_every = Duration::from_millis(state.cfg.matching.reap_interval_ms.max(50));
    every(housekeeping_every, stop.clone(), move || {
        housekeeping(s.clone())
    });
    // every third of the ghost timeout, users with an open long poll, WebSocket
    // or SSE stream on this node are marked alive
    let period = Duration::from_millis((state.cfg.matching.ghost_timeout_sec * 1000 / 3).max(200));
    every(period, stop, move || heartbeats(state.clone()));
}

async fn housekeeping(state: AppState) {
    let cfg = &state.cfg.matching;
    for (shard, name) in cfg.shards.iter().enumerate() {
        match engine::reap(&state.redis, cfg, shard, engine::now_ms()).await {
            Ok(reaped) => {
                state
                    .metrics
                    .pool_size
                    .with_label_values(&[name])
                    .set(reaped.waiting);
                state
                    .metrics
                    .pool_wait_estimate
                    .with_label_values(&[name])
                    .set(reaped.eta_ms.unwrap_or(-1));
                if reaped.ghosts > 0 {
                    tracing::debug!(shard = %name, ghosts = reaped.ghosts, "ghosts left the pool");
                }
                super::service::refund_unpaid(&state, &reaped.refunds).await;
            }
            Err(e) => tracing::warn!(shard = %name, error = %e, "pool housekeeping failed"),
        }
    }
}

async fn heartbeats(state: AppState) {
    let users = state.hub.local_users();
    if users.is_empty() {
        return;
    }
    if let Err(e) = engine::heartbeat(&state.redis, &users, engine::now_ms()).await {
        tracing::warn!(error = %e, "heartbeat failed");
    }
}
