//! Background work of every node: housekeeping of the pool (ghosts, expired
//! decisions) and heartbeats for the users listening on this node.

use std::time::Duration;

use tokio::sync::watch;

use super::engine;
use crate::state::AppState;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) {
    tokio::spawn(housekeeping(state.clone(), stop.clone()));
    tokio::spawn(heartbeats(state, stop));
}

async fn housekeeping(state: AppState, mut stop: watch::Receiver<bool>) {
    let cfg = &state.cfg.matching;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        for (shard, name) in cfg.shards.iter().enumerate() {
            match engine::reap(&state.redis, cfg, shard, engine::now_ms()).await {
                Ok(reaped) => {
                    state
                        .metrics
                        .pool_size
                        .with_label_values(&[name])
                        .set(reaped.waiting);
                    if reaped.ghosts > 0 {
                        tracing::debug!(shard = %name, ghosts = reaped.ghosts, "ghosts left the pool");
                    }
                }
                Err(e) => tracing::warn!(shard = %name, error = %e, "pool housekeeping failed"),
            }
        }
    }
}

/// Every third of the ghost timeout, users with an open long poll, WebSocket
/// or SSE stream on this node are marked alive.
async fn heartbeats(state: AppState, mut stop: watch::Receiver<bool>) {
    let cfg = &state.cfg.matching;
    let every = Duration::from_millis((cfg.ghost_timeout_sec * 1000 / 3).max(200));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let users = state.hub.local_users();
        if users.is_empty() {
            continue;
        }
        if let Err(e) = engine::heartbeat(&state.redis, cfg, &users, engine::now_ms()).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }
}
