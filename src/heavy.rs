//! CPU- and memory-heavy jobs (argon2 hashes at 19 MiB each, image decoding,
//! audio probing) run on `HEAVY_JOBS` threads of their own, with at most
//! `HEAVY_QUEUE` jobs waiting. Past that a request is answered 503 with
//! `Retry-After` at once, instead of memory growing with the flood.
//!
//! Dedicated threads rather than tokio's blocking pool: each thread that
//! ever ran a job keeps its own malloc arena, and glibc keeps a freed 19 MiB
//! argon2 block in that arena, so hundreds of pool threads would hold
//! hundreds of such blocks. A few long-lived workers reuse the same memory.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};

type Job = Box<dyn FnOnce() + Send>;

pub struct HeavyJobs {
    queue: SyncSender<Job>,
}

impl HeavyJobs {
    pub fn new(workers: usize, queue: usize) -> Self {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("heavy-{i}"))
                .spawn(move || work(&rx))
                .expect("a worker thread starts");
        }
        HeavyJobs { queue: tx }
    }

    /// Runs `job` on a worker once one is free; 503 (`Busy`) when the queue is
    /// full. A job runs to its end even if its request is abandoned meanwhile.
    pub async fn run<T, F>(&self, job: F) -> ApiResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal("heavy job workers stopped".into()));
            }
        }
        result
            .await
            .map_err(|_| ApiError::Internal("a heavy job panicked".into()))
    }
}

/// A worker: takes jobs until every sender is gone.
fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            // a panicking job ends only itself: its request answers 500
            Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn past_the_queue_jobs_are_refused_and_never_more_than_the_workers_run() {
        let heavy = Arc::new(HeavyJobs::new(2, 3));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut jobs = Vec::new();
        for _ in 0..8 {
            let (heavy, running, peak) = (heavy.clone(), running.clone(), peak.clone());
            jobs.push(tokio::spawn(async move {
                heavy
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
            // the workers pick up the first two before the rest arrive
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let results = futures_util::future::join_all(jobs).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r.as_ref().unwrap(), Err(ApiError::Busy)))
            .count();
        assert_eq!(
            busy, 3,
            "2 running + 3 waiting are admitted, the other 3 refused"
        );
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
