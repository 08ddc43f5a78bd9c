//! Presence in Redis, and who may see it (Postgres).
//!
//! Online: a node's claim in `{u:<uid>}:presence` (a sorted set: node id ->
//! until when, ms) that has not lapsed. A node claims when a WebSocket or SSE
//! stream opens (`arrive`), renews the claims of all its streaming users in one
//! pipeline every `PRESENCE_REFRESH_SEC` (`claim`; a claim lives three periods,
//! so the claims of a node that died lapse), and withdraws its claim when the
//! user's last stream on it closes (`Online` dropped). `{u:<uid>}:seen` keeps
//! when they were last online for 90 days. Every key is in the user's slot and
//! every command is single-key; each leaves a valid state on its own (claims
//! and times are overwrites), so none needs a script.

use chrono::{DateTime, Utc};
use fred::prelude::*;
use sqlx::PgPool;

use super::model::Presence;
use crate::error::ApiResult;
use crate::realtime::hub::Subscription;
use crate::state::AppState;

/// How long `last_seen` is kept after the user was last online.
const LAST_SEEN_TTL_SEC: i64 = 90 * 86400;

/// The node's name in claims: its event bus connection's, unique per node.
fn node(state: &AppState) -> String {
    state.hub.bus().connection_name().to_owned()
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Claims (or renews) the presence of `uids` for this node, in one pipeline.
pub async fn claim(state: &AppState, uids: &[i64]) -> ApiResult<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let redis = &state.redis;
    let (now, node) = (now_ms(), node(state));
    let lasts = (state.cfg.push.presence_refresh_sec * 3000) as i64;
    let pipeline = redis.pool.next().pipeline();
    for &uid in uids {
        let key = redis.keys.presence(uid);
        let until = (now + lasts) as f64;
        let _: () = pipeline
            .zadd(&key, None, None, false, false, (until, node.as_str()))
            .await?;
        // the lapsed claims of nodes that died
        let _: () = pipeline.zremrangebyscore(&key, "-inf", now as f64).await?;
        let _: () = pipeline.pexpire(&key, lasts, None).await?;
        let _: () = pipeline
            .set(
                redis.keys.last_seen(uid),
                now,
                Some(Expiration::EX(LAST_SEEN_TTL_SEC)),
                None,
                false,
            )
            .await?;
    }
    let _: Vec<Value> = pipeline.all().await?;
    Ok(())
}

/// A WebSocket's or SSE stream's subscription, with its user online while it
/// lives. Fields drop in order: the subscription leaves the hub first, then
/// the node withdraws its claim unless another stream of the user is open here.
pub struct Streaming {
    pub events: Subscription,
    _online: Online,
}

struct Online {
    state: AppState,
    uid: i64,
}

/// Marks the user of `events` (a stream's subscription) online while the
/// returned value lives.
pub async fn arrive(state: &AppState, events: Subscription) -> Streaming {
    let uid = events.user_id();
    if let Err(e) = claim(state, &[uid]).await {
        // the next refresh claims again
        tracing::warn!(user_id = uid, error = %e, "could not mark a user online");
    }
    Streaming {
        events,
        _online: Online {
            state: state.clone(),
            uid,
        },
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        let (state, uid) = (self.state.clone(), self.uid);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // after the stream's listener left the hub (it is dropped first)
        runtime.spawn(async move {
            if state.hub.has_stream(uid) {
                return;
            }
            if let Err(e) = withdraw(&state, uid).await {
                tracing::warn!(user_id = uid, error = %e, "could not mark a user offline");
            }
        });
    }
}

async fn withdraw(state: &AppState, uid: i64) -> ApiResult<()> {
    let redis = &state.redis;
    let pipeline = redis.pool.next().pipeline();
    let _: () = pipeline.zrem(redis.keys.presence(uid), node(state)).await?;
    let _: () = pipeline
        .set(
            redis.keys.last_seen(uid),
            now_ms(),
            Some(Expiration::EX(LAST_SEEN_TTL_SEC)),
            None,
            false,
        )
        .await?;
    let _: Vec<Value> = pipeline.all().await?;
    Ok(())
}

/// Whether a WebSocket or SSE stream of `uid` is open on any node.
pub async fn online(state: &AppState, uid: i64) -> ApiResult<bool> {
    let claims: i64 = state
        .redis
        .pool
        .zcount(
            state.redis.keys.presence(uid),
            now_ms() as f64,
            f64::INFINITY,
        )
        .await?;
    Ok(claims > 0)
}

/// The presence of `uid` as `GET /api/users/{id}/presence` shows it.
pub async fn presence(state: &AppState, uid: i64, in_call: bool) -> ApiResult<Presence> {
    let online = online(state, uid).await?;
    let seen_ms: Option<i64> = if online {
        Some(now_ms())
    } else {
        state
            .redis
            .pool
            .get(state.redis.keys.last_seen(uid))
            .await?
    };
    Ok(Presence {
        online,
        in_call,
        // whole seconds, as every time of the API
        last_seen: seen_ms.and_then(|ms| DateTime::from_timestamp(ms.div_euclid(1000), 0)),
    })
}

/// Whether `me` may see the presence of `uid`: they share a conversation and
/// neither has blocked the other.
pub async fn may_see(db: &PgPool, me: i64, uid: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM conversations
                        WHERE user_a = LEAST($1::int8, $2::int8) AND user_b = GREATEST($1::int8, $2::int8))
            AND NOT EXISTS (SELECT 1 FROM blocked_with($1) AS x WHERE x = $2)",
    )
    .bind(me)
    .bind(uid)
    .fetch_one(db)
    .await
}
