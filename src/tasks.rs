//! Periodic background work of a node, stopped when the server stops.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Runs `work` every `period` until `stop` changes.
pub fn every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, mut work: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => work().await,
                _ = stop.changed() => return,
            }
        }
    });
}
