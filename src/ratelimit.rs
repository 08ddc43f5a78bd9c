//! Fixed-window limits kept in Redis (`lua/ratelimit/`), answered with 429
//! and the seconds left in the window.

use crate::error::{ApiError, ApiResult};
use crate::redis::Redis;

/// Takes one unit of the limit at `key`, or answers 429 when none is left.
pub async fn take(
    redis: &Redis,
    key: &str,
    window_sec: u64,
    limit: u64,
    message: &'static str,
) -> ApiResult<()> {
    let (allowed, _count, ttl): (i64, i64, i64) = redis
        .run(
            &redis.scripts.rate_hit,
            vec![key],
            vec![window_sec as i64, limit as i64],
        )
        .await?;
    if allowed == 1 {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            message,
            wait_seconds: ttl.max(1) as u64,
        })
    }
}

/// Answers 429 when the window at `key` holds `limit` units already.
pub async fn check(redis: &Redis, key: &str, limit: u64, message: &'static str) -> ApiResult<()> {
    let (count, ttl): (i64, i64) = redis
        .run(&redis.scripts.rate_peek, vec![key], Vec::<String>::new())
        .await?;
    if (count as u64) < limit {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            message,
            wait_seconds: ttl.max(1) as u64,
        })
    }
}

/// Counts one unit at `key` whatever the limit (failed logins).
pub async fn record(redis: &Redis, key: &str, window_sec: u64) -> ApiResult<()> {
    let _: (i64, i64, i64) = redis
        .run(
            &redis.scripts.rate_hit,
            vec![key],
            vec![window_sec as i64, i64::MAX],
        )
        .await?;
    Ok(())
}
