//! The node's push worker: takes jobs from the outbox and, for a user with no
//! WebSocket/SSE open on any node, POSTs `{"platform","token","event"}` to
//! `PUSH_PROVIDER_URL` (`Authorization: Bearer PUSH_PROVIDER_KEY`) for each of
//! their devices. At most `CONCURRENCY` calls at once: a slow provider fills
//! the queue, never a request. An event is pushed to a user once, whichever
//! node offers it (a Redis `SET NX` per user and event). Each call is tried up
//! to `TRIES` times, with backoff, on time-outs, 429 and 5xx; a token the
//! provider answers 410 (gone) is deleted.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Semaphore, mpsc, watch};

use super::outbox::Job;
use super::store;
use crate::config::PushConfig;
use crate::error::ApiResult;
use crate::http::provider::Provider;
use crate::presence;
use crate::state::AppState;

/// Calls to the provider in flight at once.
const CONCURRENCY: usize = 32;
const TRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How long "pushed already" is remembered for an event.
const PUSHED_TTL_SEC: i64 = 86_400;

/// The HTTP push provider.
pub struct Pusher(Provider);

/// What the provider made of one push.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// 410: the token is no longer valid.
    Gone,
    Failed(String),
}

#[derive(Serialize)]
struct Request<'a> {
    platform: &'a str,
    token: &'a str,
    event: &'a RawValue,
}

impl Pusher {
    pub fn new(cfg: &PushConfig) -> Option<Self> {
        Some(Pusher(Provider::new(
            cfg.provider_url.clone()?,
            cfg.provider_key.clone(),
            Duration::from_millis(cfg.timeout_ms.max(1)),
        )))
    }

    /// One push, retried on time-outs, 429 and 5xx.
    pub async fn send(&self, platform: &str, token: &str, event: &RawValue) -> Sent {
        let body = Request {
            platform,
            token,
            event,
        };
        let mut backoff = FIRST_BACKOFF;
        let mut why = String::new();
        for attempt in 1..=TRIES {
            match self.0.post(&body).await {
                Ok(res) if res.status().is_success() => return Sent::Delivered,
                Ok(res) if res.status().as_u16() == 410 => return Sent::Gone,
                Ok(res) if res.status().is_server_error() || res.status().as_u16() == 429 => {
                    why = format!("push provider answered {}", res.status());
                }
                Ok(res) => return Sent::Failed(format!("push provider answered {}", res.status())),
                Err(e) => why = format!("push provider: {e}"),
            }
            if attempt < TRIES {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Sent::Failed(why)
    }
}

/// Runs the worker until the server stops.
pub fn spawn(state: AppState, mut jobs: mpsc::Receiver<Job>, mut stop: watch::Receiver<bool>) {
    let Some(provider) = Pusher::new(&state.cfg.push) else {
        return;
    };
    let provider = Arc::new(provider);
    let calls = Arc::new(Semaphore::new(CONCURRENCY));
    tokio::spawn(async move {
        loop {
            let job = tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
                _ = stop.changed() => return,
            };
            let Ok(permit) = calls.clone().acquire_owned().await else {
                return;
            };
            let (state, provider) = (state.clone(), provider.clone());
            tokio::spawn(async move {
                if let Err(e) = push(&state, &provider, &job).await {
                    state.push.count("failed");
                    tracing::warn!(user_id = job.uid, what = %job.what, error = %e, "push failed");
                }
                drop(permit);
            });
        }
    });
}

/// Pushes one job to every device of its user, unless they are online or it
/// was pushed already.
async fn push(state: &AppState, provider: &Pusher, job: &Job) -> ApiResult<()> {
    if presence::store::online(state, job.uid).await? {
        return Ok(());
    }
    let first: Option<String> = state
        .redis
        .pool
        .set(
            state.redis.keys.pushed(job.uid, &job.what),
            1,
            Some(Expiration::EX(PUSHED_TTL_SEC)),
            Some(SetOptions::NX),
            false,
        )
        .await?;
    if first.is_none() {
        state.push.count("duplicate");
        return Ok(());
    }
    let event = RawValue::from_string(job.event.clone())
        .map_err(|e| crate::error::ApiError::Internal(format!("push event: {e}")))?;
    for (platform, token) in store::tokens_of(&state.db, job.uid).await? {
        match provider.send(&platform, &token, &event).await {
            Sent::Delivered => state.push.count("sent"),
            Sent::Gone => {
                state.push.count("invalid_token");
                store::forget(&state.db, &token).await?;
            }
            Sent::Failed(why) => {
                state.push.count("failed");
                tracing::warn!(user_id = job.uid, what = %job.what, %why, "push not delivered");
            }
        }
    }
    Ok(())
}
