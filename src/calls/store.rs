//! Call sessions in Redis (`call:{<id>}`, indexed in `{calls}:active` by the
//! last sign of life of either side) and their one row in Postgres.
//!
//! A call is written to Postgres before Redis marks it ended, and the row is
//! keyed by the session id: ends that race (both sides, or a side and the
//! reaper of another node) write it once, and a node dying half-way leaves a
//! session the reaper finishes later. No call is lost, none is written twice.

use chrono::{DateTime, Utc};
use fred::prelude::*;
use serde_json::value::RawValue;

use super::model::Ended;
use crate::error::{ApiError, ApiResult};
use crate::matching::engine::{self, now_ms};
use crate::matching::shard::run_in_shard;
use crate::messages;
use crate::realtime::bus;
use crate::realtime::protocol::{CallEnded, CallStarted, Event, Signal};
use crate::redis::{Args, reply_int, reply_text};
use crate::session::random_id;
use crate::state::AppState;

/// What Redis holds of a call.
struct Session {
    match_id: i64,
    a: i64,
    b: i64,
    started_ms: i64,
    ended: bool,
}

async fn load(state: &AppState, session: &str) -> ApiResult<Option<Session>> {
    let key = state.redis.keys.call(session);
    let fields: Vec<Option<i64>> = state
        .redis
        .pool
        .hmget(key, vec!["match_id", "a", "b", "started", "ended"])
        .await?;
    Ok(match fields[..] {
        [Some(match_id), Some(a), Some(b), Some(started_ms), ended] => Some(Session {
            match_id,
            a,
            b,
            started_ms,
            ended: ended.is_some(),
        }),
        _ => None,
    })
}

/// The call session id of a matched match and its two users, `fresh` if it
/// has none yet (`lua/matching/call_start.lua`, in the match's shard).
async fn call_session(
    state: &AppState,
    uid: i64,
    match_id: i64,
    fresh: String,
) -> ApiResult<(String, i64, i64)> {
    let cfg = &state.cfg.matching;
    let shard = engine::shard_of_match(cfg, match_id).ok_or(ApiError::NotFound)?;
    let script = &state.redis.scripts.call_start;
    let args = |a: &mut Args| {
        a.push(uid).push(match_id).push(&fresh);
    };
    let reply = run_in_shard(&state.redis, shard, script, args).await?;
    match reply_text(&reply, 0).as_str() {
        "missing" => Err(ApiError::NotFound),
        "forbidden" => Err(ApiError::Forbidden),
        "unmatched" => Err(ApiError::Conflict(messages::NOT_MATCHED)),
        "call" => Ok((
            reply_text(&reply, 1),
            reply_int(&reply, 2),
            reply_int(&reply, 3),
        )),
        _ => Err(ApiError::Internal(format!(
            "call_start script answered {reply:?}"
        ))),
    }
}

/// The session of a matched match, opened by whichever side asks first.
pub async fn start(state: &AppState, uid: i64, match_id: i64) -> ApiResult<String> {
    let redis = &state.redis;
    let (session, a, b) = call_session(state, uid, match_id, random_id()).await?;
    let now = now_ms();
    // indexed before it exists: a node dying in between leaves nothing unreaped
    let _: i64 = redis
        .pool
        .zadd(
            redis.keys.active_calls(),
            Some(SetOptions::NX),
            None,
            false,
            false,
            (now as f64, session.as_str()),
        )
        .await?;
    let created: i64 = redis
        .run(
            &redis.scripts.call_open,
            vec![redis.keys.call(&session)],
            vec![match_id, a, b, now],
        )
        .await?;
    if created == 1 {
        for uid in [a, b] {
            let _: () = redis
                .pool
                .set(
                    redis.keys.user_call(uid),
                    session.as_str(),
                    Some(Expiration::EX(state.cfg.calls.user_call_ttl_sec as i64)),
                    None,
                    false,
                )
                .await?;
        }
        let event = Event::CallStarted(CallStarted {
            call_session_id: &session,
            match_id,
        });
        bus::publish(redis, &[a, b], &event.to_json()).await?;
    }
    Ok(session)
}

/// Who ends a call.
#[derive(Clone, Copy, Debug)]
pub enum Ender {
    User(i64),
    /// The reaper: neither side was heard of since `last_seen_ms`.
    Idle {
        last_seen_ms: i64,
    },
}

/// Ends a call (again, harmlessly) and returns its row; `None` when the reaper
/// meets a session that is gone.
pub async fn end(state: &AppState, session_id: &str, ender: Ender) -> ApiResult<Option<Ended>> {
    let redis = &state.redis;
    let Some(session) = load(state, session_id).await? else {
        if let Ender::User(_) = ender {
            return Err(ApiError::NotFound);
        }
        let _: i64 = redis
            .pool
            .zrem(redis.keys.active_calls(), session_id)
            .await?;
        return Ok(None);
    };
    let (ended_ms, reason) = match ender {
        Ender::User(uid) if uid != session.a && uid != session.b => {
            return Err(ApiError::Forbidden);
        }
        Ender::User(_) => (now_ms(), "hangup"),
        Ender::Idle { last_seen_ms } => (last_seen_ms.max(session.started_ms), "idle"),
    };
    let started =
        DateTime::<Utc>::from_timestamp_millis(session.started_ms).unwrap_or_else(Utc::now);
    let ended = DateTime::<Utc>::from_timestamp_millis(ended_ms).unwrap_or_else(Utc::now);
    let duration = ((ended_ms - session.started_ms).max(0) / 1000) as i32;
    // (xmax = 0): this statement inserted the row, rather than finding it
    let (call_id, duration_sec, inserted): (i64, i32, bool) = sqlx::query_as(
        "INSERT INTO calls (call_session_id, match_id, user_a, user_b, started_at, ended_at, duration_sec, end_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (call_session_id) DO UPDATE SET call_session_id = EXCLUDED.call_session_id
         RETURNING id, duration_sec, (xmax = 0)",
    )
    .bind(session_id)
    .bind(session.match_id)
    .bind(session.a)
    .bind(session.b)
    .bind(started)
    .bind(ended)
    .bind(duration)
    .bind(reason)
    .fetch_one(&state.db)
    .await?;
    let _: i64 = redis
        .run(
            &redis.scripts.call_finish,
            vec![redis.keys.call(session_id)],
            vec![ended_ms],
        )
        .await?;
    let _: i64 = redis
        .pool
        .zrem(redis.keys.active_calls(), session_id)
        .await?;
    if inserted {
        let event = Event::CallEnded(CallEnded {
            call_session_id: session_id,
            call_id,
            duration_sec,
            reason,
        });
        bus::publish(redis, &[session.a, session.b], &event.to_json()).await?;
    }
    Ok(Some(Ended {
        call_id,
        duration_sec,
    }))
}

/// Ends the calls of which neither side was heard for the idle timeout.
pub async fn reap(state: &AppState) -> ApiResult<usize> {
    let redis = &state.redis;
    let idle_since = now_ms() - (state.cfg.calls.idle_timeout_sec * 1000) as i64;
    let idle: Vec<(String, f64)> = redis
        .pool
        .zrangebyscore(
            redis.keys.active_calls(),
            "-inf",
            idle_since as f64,
            true,
            Some((0, 100)),
        )
        .await?;
    for (session, last_seen) in &idle {
        end(
            state,
            session,
            Ender::Idle {
                last_seen_ms: *last_seen as i64,
            },
        )
        .await?;
    }
    Ok(idle.len())
}

/// Marks alive the calls of the users who hold a WebSocket on this node.
pub async fn heartbeat(state: &AppState, users: &[i64]) -> ApiResult<()> {
    let redis = &state.redis;
    let lookups = users.iter().map(|uid| {
        redis
            .pool
            .get::<Option<String>, _>(redis.keys.user_call(*uid))
    });
    let sessions: Vec<String> = futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .collect();
    if sessions.is_empty() {
        return Ok(());
    }
    let now = now_ms() as f64;
    let members: Vec<(f64, String)> = sessions.into_iter().map(|s| (now, s)).collect();
    let _: i64 = redis
        .pool
        .zadd(
            redis.keys.active_calls(),
            Some(SetOptions::XX),
            None,
            false,
            false,
            members,
        )
        .await?;
    Ok(())
}

/// Relays a WebRTC signaling message (SDP or ICE candidate, opaque) to the
/// other participant of a live call, on whatever node they are.
pub async fn relay_signal(
    state: &AppState,
    from: i64,
    session_id: &str,
    payload: &RawValue,
) -> ApiResult<()> {
    let session = load(state, session_id).await?.ok_or(ApiError::NotFound)?;
    if session.ended {
        return Err(ApiError::NotFound);
    }
    let to = match from {
        f if f == session.a => session.b,
        f if f == session.b => session.a,
        _ => return Err(ApiError::Forbidden),
    };
    let signal = Event::Signal(Signal {
        call_session_id: session_id,
        from,
        payload,
    });
    bus::publish(&state.redis, &[to], &signal.to_json()).await?;
    Ok(())
}

/// Whether the user is in a live call: their pointer names a session not ended.
pub async fn in_call(state: &AppState, uid: i64) -> ApiResult<bool> {
    let redis = &state.redis;
    let session: Option<String> = redis.pool.get(redis.keys.user_call(uid)).await?;
    let Some(session) = session else {
        return Ok(false);
    };
    Ok(load(state, &session).await?.is_some_and(|s| !s.ended))
}
