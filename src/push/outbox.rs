//! The node's queue of pushes to make: domains offer events to it without
//! waiting (a full queue drops the push with a warning, counted in
//! `push_notifications_total{outcome="dropped"}`); the `worker` takes them.

use prometheus::IntCounterVec;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::config::PushConfig;

/// One event for one user, to push if they have no stream open.
#[derive(Debug)]
pub struct Job {
    pub uid: i64,
    /// What the event is about, unique per user (`message:<id>`, `match:<id>`...):
    /// it is pushed once, whichever node offers it and however often.
    pub what: String,
    /// The event as sent on the user's streams (a JSON object with `type`).
    pub event: String,
}

pub struct Outbox {
    /// `None`: push is off (no `PUSH_PROVIDER_URL`).
    jobs: Option<mpsc::Sender<Job>>,
    counts: IntCounterVec,
}

impl Outbox {
    /// The outbox and, when push is on, the queue's other end for the worker.
    pub fn new(cfg: &PushConfig, counts: IntCounterVec) -> (Self, Option<mpsc::Receiver<Job>>) {
        if cfg.provider_url.is_none() {
            tracing::info!("push notifications off: no PUSH_PROVIDER_URL");
            return (Outbox { jobs: None, counts }, None);
        }
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        (
            Outbox {
                jobs: Some(tx),
                counts,
            },
            Some(rx),
        )
    }

    /// Offers `event` about `what` for `uid`, pushed if they have no
    /// WebSocket/SSE open anywhere. Never waits.
    /// Whether pushes go anywhere (a provider is configured).
    pub fn enabled(&self) -> bool {
        self.jobs.is_some()
    }

    pub fn offer(&self, uid: i64, what: String, event: String) {
        let Some(jobs) = &self.jobs else {
            return;
        };
        match jobs.try_send(Job { uid, what, event }) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                self.counts.with_label_values(&["dropped"]).inc();
                tracing::warn!(user_id = uid, what = %job.what, "push queue full; notification dropped");
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Counts one outcome of a push (`sent`, `failed`, `invalid_token`, ...).
    pub fn count(&self, outcome: &str) {
        self.counts.with_label_values(&[outcome]).inc();
    }
}
