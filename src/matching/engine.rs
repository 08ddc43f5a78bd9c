//! The matching engine: typed calls to the scripts of `lua/matching/`.
//! Every pairing, decision and cancel is one script run, so concurrent
//! requests can never pair a user twice, pair a user with themself or lose a
//! user from the pool. Outcomes are plain values; callers decide what they
//! mean to a client (errors here are Redis failures only).

use std::sync::Arc;

use fred::prelude::*;

use super::model::{Location, Preferred};
use super::reach::Reach;
use crate::cache::LocalCache;
use crate::config::MatchConfig;
use crate::error::{ApiError, ApiResult};
use crate::realtime::bus;
use crate::redis::{Redis, reply_int, reply_text};
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
    Charging,
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

/// Runs a matching script in a shard: `ARGV = [T, events channel, args...]`,
/// `KEYS = [T:seen]` (which routes it to the shard's slot). The reply's first
/// element, the events the script could not deliver itself (on a Cluster), is
/// delivered here and taken off.
pub async fn run_in_shard<A: IntoIterator<Item = String>>(
    redis: &Redis,
    cfg: &MatchConfig,
    shard: usize,
    script: &fred::types::scripts::Script,
    args: impl Fn() -> A,
) -> ApiResult<Vec<Value>> {
    run_on(redis, redis.pool.next(), cfg, shard, script, args).await
}

/// `run_in_shard` on a given connection (a `WAIT` after it must follow on the same).
/// `args` are built once, and again only if the script has to be loaded.
async fn run_on<A: IntoIterator<Item = String>>(
    redis: &Redis,
    client: &Client,
    cfg: &MatchConfig,
    shard: usize,
    script: &fred::types::scripts::Script,
    args: impl Fn() -> A,
) -> ApiResult<Vec<Value>> {
    let (prefix, seen) = shard_keys(redis, cfg, shard)?;
    let build = || {
        let mut argv = vec![prefix.clone(), redis.events_channel()];
        argv.extend(args());
        (seen.clone(), argv)
    };
    let mut reply: Vec<Value> = Redis::run_on(client, script, build).await?;
    if reply.is_empty() {
        return Err(ApiError::Internal(
            "a matching script answered nothing".into(),
        ));
    }
    let outbox = reply_text(&reply, 0);
    reply.remove(0);
    if !outbox.is_empty() {
        let events: Vec<(String, String)> = serde_json::from_str(&outbox)
            .map_err(|e| ApiError::Internal(format!("script outbox: {e}")))?;
        for (uid, event) in events {
            let uid = uid.parse().unwrap_or_default();
            Box::pin(bus::publish(redis, &[uid], &event)).await?;
        }
    }
    Ok(reply)
}

/// The key prefix (with its hash tag) of a shard, and its routing key `T:seen`.
fn shard_keys(redis: &Redis, cfg: &MatchConfig, shard: usize) -> ApiResult<(String, String)> {
    let name = cfg
        .shards
        .get(shard)
        .ok_or_else(|| ApiError::Internal(format!("no shard {shard}")))?;
    let prefix = redis.keys.pool(name);
    let seen = format!("{prefix}:seen");
    Ok((prefix, seen))
}

/// Waits until `cfg.wait_replicas` replicas hold what `client` wrote in
/// `shard`; false when they did not within `cfg.wait_ms`.
async fn replicated(
    redis: &Redis,
    client: &Client,
    cfg: &MatchConfig,
    shard: usize,
) -> ApiResult<bool> {
    if cfg.wait_replicas <= 0 {
        return Ok(true);
    }
    let (_, seen) = shard_keys(redis, cfg, shard)?;
    // on the shard's master, on the connection that wrote
    let options = fred::types::config::Options {
        cluster_hash: Some(fred::types::ClusterHash::Custom(fred::util::redis_keyslot(
            seen.as_bytes(),
        ))),
        ..Default::default()
    };
    let acked: i64 = client
        .with_options(&options)
        .wait(cfg.wait_replicas, cfg.wait_ms)
        .await?;
    Ok(acked >= cfg.wait_replicas)
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
    let args = || {
        let (lng, lat) = match ticket.location {
            Some(l) => (l.lng.to_string(), l.lat.to_string()),
            None => (String::new(), String::new()),
        };
        let mut args: Vec<String> = Vec::with_capacity(22 + ticket.excluded.len());
        args.extend([
            ticket.uid.to_string(),
            ticket.gender.as_str().to_owned(),
            ticket.age.to_string(),
            ticket.preferred.as_str().to_owned(),
            ticket.age_min.to_string(),
            ticket.age_max.to_string(),
            ticket.radius_km.to_string(),
            lng,
            lat,
            ticket.cost.to_string(),
            ticket.card.clone(),
            now.to_string(),
            match_id.to_string(),
            (cfg.show_time_sec * 1000).to_string(),
            (cfg.rematch_cooldown_sec * 1000).to_string(),
            (cfg.ghost_timeout_sec * 1000).to_string(),
            ticket.balance.to_string(),
            ticket.reach.scopes.clone(),
            ticket.reach.searched.clone(),
            ticket.reach.interests.clone(),
            ticket.reach.relax.clone(),
            if with_status { "1" } else { "0" }.to_owned(),
        ]);
        args.extend(ticket.excluded.iter().map(i64::to_string));
        args
    };
    let client = redis.pool.next();
    let script = &redis.scripts.match_pair;
    let reply = run_on(redis, client, cfg, ticket.shard, script, args).await?;
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
        Box::pin(unpair(redis, cfg, *match_id, &[ticket.uid, *partner], now)).await?;
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
        "charging" => Ok(PairOutcome::Charging),
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
    let args = || {
        [
            uid.to_string(),
            match_id.to_string(),
            decision.to_owned(),
            now.to_string(),
        ]
    };
    let reply = run_in_shard(redis, cfg, shard, &redis.scripts.match_decide, args).await?;
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
pub async fn cancel(redis: &Redis, cfg: &MatchConfig, uid: i64, shard: usize) -> ApiResult<bool> {
    let script = &redis.scripts.match_cancel;
    let reply = run_in_shard(redis, cfg, shard, script, || [uid.to_string()]).await?;
    Ok(reply_int(&reply, 0) == 1)
}

/// Undoes a pair that could not be paid for; `put_back` return to their place in line.
pub async fn unpair(
    redis: &Redis,
    cfg: &MatchConfig,
    match_id: i64,
    put_back: &[i64],
    now: i64,
) -> ApiResult<()> {
    let shard = super::ids::shard_of(match_id);
    let args = || {
        let mut args = vec![match_id.to_string(), now.to_string()];
        args.extend(put_back.iter().map(i64::to_string));
        args
    };
    run_in_shard(redis, cfg, shard, &redis.scripts.match_unpair, args).await?;
    Ok(())
}

pub async fn reap(redis: &Redis, cfg: &MatchConfig, shard: usize, now: i64) -> ApiResult<Reaped> {
    let args = || {
        [
            now.to_string(),
            (cfg.ghost_timeout_sec * 1000).to_string(),
            cfg.reap_batch.to_string(),
            REFUND_WINDOW_MS.to_string(),
            (cfg.rematch_cooldown_sec * 1000).to_string(),
        ]
    };
    let reply = run_in_shard(redis, cfg, shard, &redis.scripts.match_reap, args).await?;
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

/// Where the user stands in the pool of `shard`.
pub async fn status(
    redis: &Redis,
    cfg: &MatchConfig,
    uid: i64,
    shard: usize,
) -> ApiResult<(Standing, Queue)> {
    let script = &redis.scripts.match_status;
    let reply = run_in_shard(redis, cfg, shard, script, || [uid.to_string()]).await?;
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
pub async fn confirm(redis: &Redis, cfg: &MatchConfig, match_id: i64, now: i64) -> ApiResult<bool> {
    let shard = super::ids::shard_of(match_id);
    let args = || [match_id.to_string(), now.to_string()];
    let reply = run_in_shard(redis, cfg, shard, &redis.scripts.match_confirm, args).await?;
    Ok(reply_int(&reply, 0) == 1)
}

/// Marks users alive in every shard where they wait (`ZADD XX`: others are untouched).
pub async fn heartbeat(redis: &Redis, cfg: &MatchConfig, uids: &[i64], now: i64) -> ApiResult<()> {
    for name in &cfg.shards {
        let seen = format!("{}:seen", redis.keys.pool(name));
        for chunk in uids.chunks(1000) {
            let members: Vec<(f64, i64)> = chunk.iter().map(|uid| (now as f64, *uid)).collect();
            let _: i64 = redis
                .pool
                .zadd(&seen, Some(SetOptions::XX), None, false, false, members)
                .await?;
        }
    }
    Ok(())
}
