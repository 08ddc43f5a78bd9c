//! The raw ceiling: `pair.lua` straight against Redis, without HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use voxmatch::config::Config;
use voxmatch::matching::engine::{self, PairOutcome, Ticket};
use voxmatch::matching::model::Preferred;
use voxmatch::matching::reach::Reach;
use voxmatch::redis::Redis;
use voxmatch::users::model::Gender;

use crate::Args;

fn raw_ticket(uid: i64, gender: Gender) -> Ticket {
    Ticket {
        uid,
        shard: 0,
        gender,
        age: 30,
        preferred: Preferred::All,
        age_min: 18,
        age_max: 100,
        radius_km: 0,
        location: None,
        cost: 0,
        balance: 0,
        card: format!(
            r#"{{"id":{uid},"username":"raw{uid}","age":30,"gender":"{}","profile_image":null,"rating":0.0}}"#,
            gender.as_str()
        ),
        excluded: Vec::new(),
        reach: Reach::plain(30),
    }
}

/// The pairing script straight against Redis, as the cycle calls it, 32 in
/// flight: calls per second.
pub async fn raw_ceiling(a: &Args) -> f64 {
    let prefix = format!("loadgen{:08x}:", rand::random::<u32>());
    let (url, key_prefix) = (a.redis.clone(), prefix.clone());
    let cfg = Config::from_source(&move |k: &str| match k {
        "REDIS_URL" => Some(url.clone()),
        "REDIS_KEY_PREFIX" => Some(key_prefix.clone()),
        "REDIS_POOL_SIZE" => Some("8".into()),
        "REMATCH_COOLDOWN_SEC" => Some("0".into()),
        _ => None,
    })
    .expect("the raw ceiling's configuration is valid");
    let Ok(redis) = Redis::connect(&cfg).await else {
        eprintln!("raw ceiling: Redis at {} does not answer", a.redis);
        return 0.0;
    };
    let mcfg = &cfg.matching;
    let next = AtomicU64::new(1);
    let until = Instant::now() + Duration::from_secs(a.seconds.min(10));
    let started = Instant::now();
    let calls = futures_util::future::join_all((0..32).map(|_| async {
        let mut calls = 0u64;
        while Instant::now() < until {
            let id = next.fetch_add(2, Ordering::Relaxed) as i64;
            let now = engine::now_ms();
            for (uid, gender) in [(id, Gender::Female), (id + 1, Gender::Male)] {
                let ticket = raw_ticket(uid, gender);
                if let Ok(PairOutcome::Waiting(_) | PairOutcome::Paired { .. }) =
                    engine::pair(&redis, mcfg, &ticket, uid, now, false).await
                {
                    calls += 1;
                }
            }
        }
        calls
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let total: u64 = calls.iter().sum();
    let keys: Vec<String> = fred::prelude::ClientLike::custom(
        redis.pool.next(),
        fred::cmd!("KEYS"),
        vec![format!("{prefix}*")],
    )
    .await
    .unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: Result<i64, _> =
            fred::prelude::KeysInterface::del(&redis.pool, chunk.to_vec()).await;
    }
    total as f64 / seconds
}
