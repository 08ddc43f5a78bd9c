//! Running a script of `lua/matching/` (a function of the matching library) in a
//! shard of the pool: its keys and arguments, and the events it hands back to
//! deliver (on a Cluster).

use fred::prelude::*;

use crate::config::MatchConfig;
use crate::error::{ApiError, ApiResult};
use crate::realtime::bus;
use crate::redis::{Args, Function, PoolKeys, Redis, reply_text};

/// Runs a matching script in a shard: `ARGV = [T, events channel, args...]`,
/// `KEYS = [T:seen]` (which routes it to the shard's slot). The reply's first
/// element, the events the script could not deliver itself (on a Cluster), is
/// delivered here and taken off.
pub async fn run_in_shard(
    redis: &Redis,
    shard: usize,
    function: &Function,
    args: impl Fn(&mut Args),
) -> ApiResult<Vec<Value>> {
    run_on(redis, redis.pool.next(), shard, function, args).await
}

/// `run_in_shard` on a given connection (a `WAIT` after it must follow on the same).
/// `args` writes the script's own arguments: once, and again only if the library
/// has to be loaded.
pub(super) async fn run_on(
    redis: &Redis,
    client: &Client,
    shard: usize,
    function: &Function,
    args: impl Fn(&mut Args),
) -> ApiResult<Vec<Value>> {
    let keys = shard_keys(redis, shard)?;
    let build = || {
        let mut argv = Args::with_capacity(32, 512);
        argv.push(&keys.prefix).push(redis.events_channel());
        args(&mut argv);
        (keys.seen.as_str(), argv.into_values())
    };
    let mut reply: Vec<Value> = redis.call_on(client, function, build).await?;
    if reply.is_empty() {
        return Err(ApiError::Internal(
            "a matching script answered nothing".into(),
        ));
    }
    let outbox = reply_text(&reply, 0);
    reply.remove(0);
    if !outbox.is_empty() {
        // [uid, event, answered ('1' or '')] (lua/matching/lib.lua)
        let events: Vec<(String, String, String)> = serde_json::from_str(&outbox)
            .map_err(|e| ApiError::Internal(format!("script outbox: {e}")))?;
        for (uid, event, answered) in events {
            let uid = uid.parse().unwrap_or_default();
            Box::pin(bus::deliver(redis, &[uid], &event, answered == "1")).await?;
        }
    }
    Ok(reply)
}

/// The key prefix (with its hash tag) of a shard, and its routing key `T:seen`.
fn shard_keys(redis: &Redis, shard: usize) -> ApiResult<&PoolKeys> {
    redis
        .pools
        .get(shard)
        .ok_or_else(|| ApiError::Internal(format!("no shard {shard}")))
}

/// Waits until `cfg.wait_replicas` replicas hold what `client` wrote in
/// `shard`; false when they did not within `cfg.wait_ms`.
pub(super) async fn replicated(
    redis: &Redis,
    client: &Client,
    cfg: &MatchConfig,
    shard: usize,
) -> ApiResult<bool> {
    if cfg.wait_replicas <= 0 {
        return Ok(true);
    }
    let seen = &shard_keys(redis, shard)?.seen;
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
