//! Sliding-window limits kept in Redis (`lua/ratelimit/take.lua`), answered
//! with 429, `wait_seconds` and `Retry-After` when full.
//!
//! A unit is taken *before* the work it limits, so that N parallel requests
//! can never get past the limit; work that should not count (a login that
//! succeeded, a code that could not be sent) gives its unit back.

use fred::prelude::*;

use crate::error::{ApiError, ApiResult};
use crate::messages::Text;
use crate::redis::Redis;

/// The windows limits are counted in (their names say which: per hour, per day).
pub const MINUTE: u64 = 60;
pub const HOUR: u64 = 3600;
pub const DAY: u64 = 86400;

/// One limit: at most `max` units in any `window_sec`.
pub struct Limit {
    pub key: String,
    pub window_sec: u64,
    pub max: u64,
    /// The message (and code) of the 429.
    pub text: Text,
}

/// A unit taken from a limit.
#[must_use = "a unit is either kept or given back"]
pub struct Unit {
    key: String,
    member: String,
}

/// Takes one unit of `limit`, or answers 429 with the seconds until one is free.
pub async fn take(redis: &Redis, limit: Limit) -> ApiResult<Unit> {
    let member = crate::session::random_id();
    let (taken, wait_ms): (i64, i64) = redis
        .run(
            &redis.scripts.rate_take,
            vec![limit.key.as_str()],
            vec![
                (limit.window_sec * 1000).to_string(),
                limit.max.to_string(),
                member.clone(),
            ],
        )
        .await?;
    if taken == 1 {
        Ok(Unit {
            key: limit.key,
            member,
        })
    } else {
        Err(ApiError::RateLimited {
            text: limit.text,
            wait_seconds: ((wait_ms.max(0) + 999) / 1000).max(1) as u64,
        })
    }
}

/// Takes one unit of `limit` for good (a quota), or answers 429.
pub async fn spend(redis: &Redis, limit: Limit) -> ApiResult<()> {
    take(redis, limit).await?.keep();
    Ok(())
}

impl Unit {
    /// Keeps the unit: the work it paid for happened (or was attempted).
    pub fn keep(self) {}

    /// The key of the limit this unit was taken from.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Gives the unit back (one ZREM: it never creates a key, so never one without a TTL).
    pub async fn give_back(self, redis: &Redis) -> ApiResult<()> {
        let _: i64 = redis.pool.zrem(&self.key, &self.member).await?;
        Ok(())
    }
}

/// Forgets every unit of a limit (a successful login clears its account's failures).
pub async fn clear(redis: &Redis, key: &str) -> ApiResult<()> {
    let _: i64 = redis.pool.del(key).await?;
    Ok(())
}
