//! The matching engine: typed calls to the scripts of `lua/matching/`.
//! Every pairing, decision and cancel is one script run, so concurrent
//! requests can never pair a user twice, pair a user with themself or lose a
//! user from the pool. Outcomes are plain values; callers decide what they
//! mean to a client (errors here are Redis failures only).

use std::sync::Arc;

use fred::prelude::*;

use super::model::{Location, Preferred};
use super::reach::Reach;
use super::shard::{replicated, run_in_shard, run_on};
use crate::cache::LocalCache;
use crate::config::MatchConfig;
use crate::error::{ApiError, ApiResult};
use crate::redis::{Args, Redis, reply_int, reply_text};
use crate::users::model::Gender;

/// A user's entry in the pool, as the pairing script reads it.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub uid: i64,
    pub shard: usize,
    pub gender: Gender,
    pub age: i32,
    pub preferred: Preferred,
    pub age_min: i32,
    pub age_max: i32,
    /// 0: no distance limit.
    pub radius_km: i32,
    pub location: Option<Location>,
    /// Gems owed if a match is made.
    pub cost: i64,
    /// The user's gem balance when they asked.
    pub balance: i64,
    /// What the partner is shown (`matched_user`), as JSON.
    pub card: String,
    /// Users never to pair with: blocks either way.
    pub excluded: Vec<i64>,
    pub reach: Reach,
}

/// A user's place in the pool of their shard.
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    /// When they joined the pool (ms); `None` unless waiting.
    pub since_ms: Option<i64>,
    /// Users now waiting in the shard.
    pub waiting: i64,
    /// The median wait of the shard's recent pairs (ms).
    pub eta_ms: Option<i64>,
    /// The filters the pool knows them by now (possibly relaxed): `[min, max]`, radius (0: none).
    pub filters: Option<([i32; 2], i32)>,
}

/// What the node remembers of users for pairing (`CANDIDATE_CACHE_MS`):
/// their tickets as read from Postgres, forgotten by `App::users_changed`.
pub type Tickets = LocalCache<i64, Arc<Ticket>>;

#[derive(Debug, PartialEq)]
pub enum PairOutcome {
    /// The user already has an undecided match: the same one again.
    Pending {
        match_id: i64,
        partner_card: String,
        deadline_ms: i64,
    },
    Paired {
        match_id: i64,
        partner_card: String,
        deadline_ms: i64,
        partner: i64,
        partner_cost: i64,
        partner_since_ms: i64,
    },
    Waiting(Queue),
    /// The user's new match is being paid for by another request: it is announced once paid.
    Charging {
        match_id: i64,
    },
    /// Too few gems for a filtered match; the user is not (or no longer) in the pool.
    NotEnoughGems,
}

#[derive(Debug, PartialEq)]
pub enum DecideOutcome {
    Missing,
    Forbidden,
    Matched,
    Next,
    /// Accepted; the partner has not decided yet.
    Waiting {
        deadline_ms: i64,
    },
}

/// What one housekeeping run did in a shard.
#[derive(Debug, Default, PartialEq)]
pub struct Reaped {
    pub ghosts: i64,
    pub expired: i64,
    pub waiting: i64,
    /// The median wait of recent pairs (ms).
    pub eta_ms: Option<i64>,
    /// Matches that ended before their gems were confirmed: what was charged goes back.
    pub refunds: Vec<i64>,
}

/// How long a match that ended unpaid is kept in line for refunds: longer than a
/// charge can take (statement timeout and pool wait), so a late commit is refunded too.
const REFUND_WINDOW_MS: i64 = 60_000;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The shard a match id belongs to, if it is one of `MATCH_SHARDS`.
pub fn shard_of_match(cfg: &MatchConfig, match_id: i64) -> Option<usize> {
    let shard = super::ids::shard_of(match_id);
    (shard < cfg.shards.len()).then_some(shard)
}

fn script_error(what: &str, reply: &[Value]) -> ApiError {
    ApiError::Internal(format!("{what} script answered {reply:?}"))
}

/// Puts the user in the pool and pairs them if someone fits. `with_status`:
/// a caller left waiting gets the shard's waiting count and estimate too.
pub async fn pair(
    redis: &Redis,
    cfg: &MatchConfig,
    ticket: &Ticket,
    match_id: i64,
    now: i64,
    with_status: bool,
) -> ApiResult<PairOutcome> {
    let args = |a: &mut Args| {
        a.push(ticket.uid)
            .push(ticket.gender.as_str())
            .push(ticket.age);
        a.push(ticket.preferred.as_str())
            .push(ticket.age_min)
            .push(ticket.age_max);
        a.push(ticket.radius_km);
        match ticket.location {
            Some(l) => a.push(l.lng).push(l.lat),
            None => a.push("").push(""),
        };
        a.push(ticket.cost)
            .push(&ticket.card)
            .push(now)
            .push(match_id);
        a.push(cfg.show_time_sec * 1000)
            .push(cfg.rematch_cooldown_sec * 1000)
            .push(cfg.ghost_timeout_sec * 1000);
        a.push(ticket.balance)
            .push(&ticket.reach.scopes)
            .push(&ticket.reach.searched);
        a.push(&ticket.reach.interests).push(&ticket.reach.relax);
        a.push(if with_status { "1" } else { "0" });
        for uid in &ticket.excluded {
            a.push(uid);
        }
    };
    let client = redis.pool.next();
    let script = &redis.scripts.match_pair;
    let reply = run_on(redis, client, ticket.shard, script, args).await?;
    let outcome = pair_outcome(&reply)?;
    if let PairOutcome::Paired {
        match_id,
        partner,
        partner_cost,
        ..
    } = &outcome
        && (ticket.cost > 0 || *partner_cost > 0)
        // boxed: fred's WAIT future is kilobytes, and pairs that owe gems are the rare ones
        && !Box::pin(replicated(redis, client, cfg, ticket.shard))
            .await
            .unwrap_or(false)
    {
        // a failover could take the pair away after it was paid for: undo it
        // (also when WAIT itself failed: its connection dropped, Redis may be failing over)
        Box::pin(unpair(redis, *match_id, &[ticket.uid, *partner], now)).await?;
        return Err(ApiError::Unavailable(
            "a new pair was not replicated in time".into(),
        ));
    }
    Ok(outcome)
}

fn pair_outcome(reply: &[Value]) -> ApiResult<PairOutcome> {
    match reply_text(reply, 0).as_str() {
        "waiting" => Ok(PairOutcome::Waiting(Queue {
            since_ms: Some(reply_int(reply, 1)),
            waiting: optional_int(reply, 2).unwrap_or(0),
            eta_ms: optional_int(reply, 3),
            filters: Some((
                [reply_int(reply, 4) as i32, reply_int(reply, 5) as i32],
                reply_int(reply, 6) as i32,
            )),
        })),
        "charging" => Ok(PairOutcome::Charging {
            match_id: reply_int(reply, 1),
        }),
        "broke" => Ok(PairOutcome::NotEnoughGems),
        "pending" => Ok(PairOutcome::Pending {
            match_id: reply_int(reply, 1),
            partner_card: reply_text(reply, 2),
            deadline_ms: reply_int(reply, 3),
        }),
        "paired" => Ok(PairOutcome::Paired {
            match_id: reply_int(reply, 1),
            partner_card: reply_text(reply, 2),
            deadline_ms: reply_int(reply, 3),
            partner: reply_int(reply, 4),
            partner_cost: reply_int(reply, 5),
            partner_since_ms: reply_int(reply, 6),
        }),
        _ => Err(script_error("pair", reply)),
    }
}

pub async fn decide(
    redis: &Redis,
    cfg: &MatchConfig,
    uid: i64,
    match_id: i64,
    accept: bool,
    now: i64,
) -> ApiResult<DecideOutcome> {
    let Some(shard) = shard_of_match(cfg, match_id) else {
        return Ok(DecideOutcome::Missing);
    };
    let decision = if accept { "accept" } else { "reject" };
    let args = |a: &mut Args| {
        a.push(uid).push(match_id).push(decision).push(now);
    };
    let reply = run_in_shard(redis, shard, &redis.scripts.match_decide, args).await?;
    match reply_text(&reply, 0).as_str() {
        "missing" => Ok(DecideOutcome::Missing),
        "forbidden" => Ok(DecideOutcome::Forbidden),
        "matched" => Ok(DecideOutcome::Matched),
        "next" => Ok(DecideOutcome::Next),
        "waiting" => Ok(DecideOutcome::Waiting {
            deadline_ms: reply_int(&reply, 1),
        }),
        _ => Err(script_error("decide", &reply)),
    }
}

/// Takes the user out of the pool of `shard` and out of any undecided match.
/// Returns whether they were waiting.
pub async fn cancel(redis: &Redis, uid: i64, shard: usize) -> ApiResult<bool> {
    leave(redis, uid, shard, "").await
}

/// After the user's settings changed: out of the pool of `shard`, where their
/// ticket holds the old ones; a long poll of theirs hears `pool_left` and enters
/// again with the new ones. An undecided match stays, unless they `moved` to
/// another region (another shard, where it could not be found again).
/// Returns whether they were waiting.
pub async fn requeue(redis: &Redis, uid: i64, shard: usize, moved: bool) -> ApiResult<bool> {
    leave(redis, uid, shard, if moved { "move" } else { "requeue" }).await
}

async fn leave(redis: &Redis, uid: i64, shard: usize, mode: &str) -> ApiResult<bool> {
    let script = &redis.scripts.match_cancel;
    let reply = run_in_shard(redis, shard, script, |a| {
        a.push(uid).push(mode);
    })
    .await?;
    Ok(reply_int(&reply, 0) == 1)
}

/// Undoes a pair that could not be paid for; `put_back` return to their place in line.
pub async fn unpair(redis: &Redis, match_id: i64, put_back: &[i64], now: i64) -> ApiResult<()> {
    let shard = super::ids::shard_of(match_id);
    let args = |a: &mut Args| {
        a.push(match_id).push(now);
        for uid in put_back {
            a.push(uid);
        }
    };
    run_in_shard(redis, shard, &redis.scripts.match_unpair, args).await?;
    Ok(())
}

pub async fn reap(redis: &Redis, cfg: &MatchConfig, shard: usize, now: i64) -> ApiResult<Reaped> {
    let args = |a: &mut Args| {
        a.push(now)
            .push(cfg.ghost_timeout_sec * 1000)
            .push(cfg.reap_batch);
        a.push(REFUND_WINDOW_MS)
            .push(cfg.rematch_cooldown_sec * 1000);
    };
    let reply = run_in_shard(redis, shard, &redis.scripts.match_reap, args).await?;
    let eta_ms = reply_int(&reply, 3);
    Ok(Reaped {
        ghosts: reply_int(&reply, 0),
        expired: reply_int(&reply, 1),
        waiting: reply_int(&reply, 2),
        eta_ms: (eta_ms >= 0).then_some(eta_ms),
        refunds: (4..reply.len()).map(|i| reply_int(&reply, i)).collect(),
    })
}

/// Whether a user has an undecided match, waits (and where), or neither, in `shard`.
pub enum Standing {
    Pending,
    Waiting,
    Idle,
}

/// Where the user stands in the pool of `shard` at `now_ms` (a match past its
/// deadline is over).
pub async fn status(
    redis: &Redis,
    uid: i64,
    shard: usize,
    now_ms: i64,
) -> ApiResult<(Standing, Queue)> {
    let script = &redis.scripts.match_status;
    let reply = run_in_shard(redis, shard, script, |a| {
        a.push(uid);
        a.push(now_ms);
    })
    .await?;
    let standing = match reply_text(&reply, 0).as_str() {
        "pending" => Standing::Pending,
        "waiting" => Standing::Waiting,
        "idle" => Standing::Idle,
        _ => return Err(script_error("status", &reply)),
    };
    let queue = Queue {
        since_ms: optional_int(&reply, 1),
        waiting: reply_int(&reply, 2),
        eta_ms: optional_int(&reply, 3),
        filters: class_filters(&reply_text(&reply, 4)),
    };
    Ok((standing, queue))
}

/// An integer of a script's reply that may be `''` (none).
fn optional_int(reply: &[Value], i: usize) -> Option<i64> {
    reply_text(reply, i).parse().ok()
}

/// The filters a class names: `"<age>:<min>:<max>:<radius>[:<cell>]"`.
fn class_filters(class: &str) -> Option<([i32; 2], i32)> {
    let mut parts = class.split(':').skip(1).map(|p| p.parse::<i32>().ok());
    let (min, max, radius) = (parts.next()??, parts.next()??, parts.next()??);
    Some(([min, max], radius))
}

/// Announces a pair whose gems were charged. `false`: the match ended
/// meanwhile (or was lost with a Redis master), and its gems go back.
pub async fn confirm(redis: &Redis, match_id: i64, now: i64) -> ApiResult<bool> {
    let shard = super::ids::shard_of(match_id);
    let args = |a: &mut Args| {
        a.push(match_id).push(now);
    };
    let reply = run_in_shard(redis, shard, &redis.scripts.match_confirm, args).await?;
    Ok(reply_int(&reply, 0) == 1)
}

/// Marks users alive in every shard where they wait (`ZADD XX`: others are untouched).
pub async fn heartbeat(redis: &Redis, uids: &[i64], now: i64) -> ApiResult<()> {
    for shard in redis.pools.iter() {
        for chunk in uids.chunks(1000) {
            let members: Vec<(f64, i64)> = chunk.iter().map(|uid| (now as f64, *uid)).collect();
            let _: i64 = redis
                .pool
                .zadd(
                    &shard.seen,
                    Some(SetOptions::XX),
                    None,
                    false,
                    false,
                    members,
                )
                .await?;
        }
    }
    Ok(())
}
