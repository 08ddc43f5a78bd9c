//! CPU- and memory-heavy jobs (argon2 hashes at 19 MiB each, image decoding,
//! audio probing) run on the blocking pool, at most `HEAVY_JOBS` at a time
//! with at most `HEAVY_QUEUE` more waiting. Past that a request is answered
//! 503 with `Retry-After` at once, instead of memory growing with the flood.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

pub struct HeavyJobs {
    /// Jobs running or waiting to run.
    admitted: Arc<Semaphore>,
    /// Jobs running.
    running: Arc<Semaphore>,
}

impl HeavyJobs {
    pub fn new(jobs: usize, queue: usize) -> Self {
        let jobs = jobs.max(1);
        HeavyJobs {
            admitted: Arc::new(Semaphore::new(jobs + queue)),
            running: Arc::new(Semaphore::new(jobs)),
        }
    }

    /// Runs `job` on the blocking pool once a slot is free; 503 (`Busy`) when
    /// the queue is full. The slot is held until the job ends, even if the
    /// request is abandoned meanwhile, so the bound holds.
    pub async fn run<T, F>(&self, job: F) -> ApiResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(format!("heavy jobs: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let _slots = (admitted, running);
            job()
        })
        .await
        .map_err(|e| ApiError::Internal(format!("heavy job: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn past_the_queue_jobs_are_refused_and_never_more_than_the_bound_run() {
        let heavy = Arc::new(HeavyJobs::new(2, 3));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..8).map(|_| {
            let (heavy, running, peak) = (heavy.clone(), running.clone(), peak.clone());
            tokio::spawn(async move {
                heavy
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            })
        });
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
