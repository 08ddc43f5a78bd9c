//! The pairing script alone, against the real Redis of `REDIS_URL`, with 0, 10k
//! and 100k waiting users who do not fit the caller (the figure must stay flat),
//! and with 10k of them spread over 5k distinct classes inside the caller's age
//! range (an adversary's layout: the search bounds what it looks at), and with
//! waiters of other languages and waiters whose filters relaxed (a caller of one
//! language must not visit the others). Each timed call is a caller who finds the
//! one fitting waiter.
//!
//! `cargo bench --bench pairing` (under `cargo test` each case runs once, small).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fred::prelude::*;
use voxmatch::config::{Config, MatchConfig};
use voxmatch::matching::engine::{self, PairOutcome, Ticket};
use voxmatch::matching::model::{Location, Preferred};
use voxmatch::matching::reach::Reach;
use voxmatch::redis::Redis;
use voxmatch::users::model::Gender;

const SEOUL: Location = Location {
    lat: 37.5665,
    lng: 126.978,
};
const BUSAN: Location = Location {
    lat: 35.1796,
    lng: 129.0756,
};

static NEXT: AtomicI64 = AtomicI64::new(1);

fn next() -> i64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn ticket(
    gender: Gender,
    age: i32,
    preferred: Preferred,
    range: (i32, i32),
    radius: i32,
    at: Option<Location>,
) -> Ticket {
    let uid = next();
    Ticket {
        uid,
        shard: 0,
        gender,
        age,
        preferred,
        age_min: range.0,
        age_max: range.1,
        radius_km: radius,
        location: at,
        cost: 0,
        balance: 0,
        card: format!(
            r#"{{"id":{uid},"username":"u{uid}","age":{age},"gender":"{}","profile_image":null,"rating":0.0}}"#,
            gender.as_str()
        ),
        excluded: Vec::new(),
        reach: Reach::plain(age),
    }
}

/// The caller of every timed call: a woman of 30 in Seoul who wants men of 25-35.
fn caller() -> Ticket {
    ticket(
        Gender::Female,
        30,
        Preferred::Male,
        (25, 35),
        0,
        Some(SEOUL),
    )
}

/// Waiters who fit neither the caller nor each other, four kinds in turn: women
/// (18-20) who want women of 90-100; men outside her age range; men whose own
/// range excludes her; men of the right age whose 5 km radius does not reach Seoul.
fn misfit(i: usize) -> Ticket {
    let age = 25 + (i % 11) as i32;
    match i % 4 {
        0 => ticket(
            Gender::Female,
            18 + (i % 3) as i32,
            Preferred::Female,
            (90, 100),
            0,
            None,
        ),
        1 => ticket(
            Gender::Male,
            40 + (i % 60) as i32,
            Preferred::Female,
            (90, 100),
            0,
            None,
        ),
        2 => ticket(
            Gender::Male,
            age,
            Preferred::Female,
            if i % 8 < 4 { (18, 25) } else { (40, 60) },
            0,
            None,
        ),
        _ => ticket(
            Gender::Male,
            age,
            Preferred::Female,
            (18, 100),
            5,
            Some(BUSAN),
        ),
    }
}

/// Waiters two to a class, every class in the caller's age range and none fitting
/// her: men whose own range excludes 30 (a distinct range per class), and men in her
/// own 1° cell whose radius (a distinct one per class) does not reach her, so that a
/// class cannot be ruled out without reading its geo set.
fn spread_misfit(i: usize) -> Ticket {
    let class = i / 2;
    let age = 25 + (class % 11) as i32;
    let variant = class / 22;
    if class.is_multiple_of(2) {
        // the variant-th range [lo, hi] with 31 <= lo <= hi <= 100
        let (mut lo, mut left) = (31, variant as i32);
        while left > 100 - lo {
            left -= 101 - lo;
            lo += 1;
        }
        ticket(
            Gender::Male,
            age,
            Preferred::Female,
            (lo, lo + left),
            0,
            None,
        )
    } else {
        let far_corner = Location {
            lat: 37.95,
            lng: 126.05,
        };
        let radius = 1 + (variant % 80) as i32;
        let min = 18 + (variant / 80) as i32;
        ticket(
            Gender::Male,
            age,
            Preferred::Female,
            (min, 100),
            radius,
            Some(far_corner),
        )
    }
}

/// The one waiter who fits: a man of 30 in Seoul who wants women.
fn fitting() -> Ticket {
    ticket(
        Gender::Male,
        30,
        Preferred::Female,
        (18, 100),
        0,
        Some(SEOUL),
    )
}

/// How the relaxed waiters relax: after 1 s, every 1 s, 2 years a side (from 18).
const RELAX: &str = "1000:1000:2:18";

/// Misfits as above, half of them speaking one of five other languages, the other
/// half Korean speakers whose filters relax (and were relaxed three times, still
/// not fitting).
fn language_misfit(i: usize) -> Ticket {
    let mut t = misfit(i);
    t.reach = if i.is_multiple_of(2) {
        let other = ["en", "ja", "zh", "es", "fr"][(i / 2) % 5];
        Reach::new(t.age, &[other.to_owned()], "[]".into(), String::new())
    } else {
        Reach::new(t.age, &["ko".to_owned()], "[]".into(), RELAX.into())
    };
    t
}

fn speaking(mut t: Ticket, languages: &[&str]) -> Ticket {
    let languages: Vec<String> = languages.iter().map(|l| l.to_string()).collect();
    t.reach = Reach::new(t.age, &languages, r#"["music"]"#.into(), RELAX.into());
    t
}

async fn setup() -> (Redis, MatchConfig, String) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379".into());
    let prefix = format!("bench{:08x}:", rand::random::<u32>());
    let key_prefix = prefix.clone();
    let cfg = Config::from_source(&move |k: &str| match k {
        "REDIS_URL" => Some(url.clone()),
        "REDIS_KEY_PREFIX" => Some(key_prefix.clone()),
        "REDIS_POOL_SIZE" => Some("4".into()),
        _ => None,
    })
    .unwrap();
    (Redis::connect(&cfg).await.unwrap(), cfg.matching, prefix)
}

async fn used_memory(redis: &Redis) -> i64 {
    let info: String = redis
        .pool
        .next()
        .info(Some(fred::types::InfoKind::Memory))
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Adds waiters `make(from..total)`, 200 at a time in flight.
async fn populate(
    redis: &Redis,
    cfg: &MatchConfig,
    make: fn(usize) -> Ticket,
    from: usize,
    total: usize,
) {
    let now = engine::now_ms();
    for chunk in (from..total).collect::<Vec<_>>().chunks(200) {
        let calls = chunk.iter().map(|&i| {
            let t = make(i);
            async move {
                let out = engine::pair(redis, cfg, &t, next(), now, false)
                    .await
                    .unwrap();
                assert!(
                    matches!(out, PairOutcome::Waiting(_)),
                    "misfits never fit each other here: {out:?}"
                );
            }
        });
        futures_util::future::join_all(calls).await;
    }
}

/// Deletes what the timed iterations made (matches, their pointers, the parked tickets
/// of users `first_uid..`), so that their expiry does not slow the next case down.
async fn clear_iterations(redis: &Redis, prefix: &str, first_uid: i64) {
    let pool = format!("{prefix}{{pool:global}}:");
    let mut doomed = Vec::new();
    for pattern in ["m:*", "um:*", "ticket:*"] {
        let keys: Vec<String> = redis
            .pool
            .next()
            .custom(fred::cmd!("KEYS"), vec![format!("{pool}{pattern}")])
            .await
            .unwrap();
        let uid_of = |k: &String| k.rsplit(':').next().and_then(|u| u.parse::<i64>().ok());
        doomed.extend(
            keys.into_iter().filter(|k| {
                !k.contains(":ticket:") || uid_of(k).is_some_and(|uid| uid >= first_uid)
            }),
        );
    }
    doomed.push(format!("{pool}deadlines"));
    doomed.push(format!("{pool}recent"));
    for chunk in doomed.chunks(1000) {
        let _: i64 = redis.pool.next().del(chunk.to_vec()).await.unwrap();
    }
}

fn pairing(c: &mut Criterion) {
    let quick = !std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if quick {
        &[0, 200]
    } else {
        &[0, 10_000, 100_000]
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (redis, mut cfg, prefix) = rt.block_on(setup());
    // the benchmark runs for minutes: nobody may turn into a ghost meanwhile
    cfg.ghost_timeout_sec = 24 * 3600;
    let mut group = c.benchmark_group("pair_script");
    group.measurement_time(Duration::from_secs(if quick { 1 } else { 10 }));
    let mut waiting = 0;
    for &n in sizes {
        let before = rt.block_on(used_memory(&redis));
        rt.block_on(populate(&redis, &cfg, misfit, waiting, n));
        if n > waiting {
            let per_user = (rt.block_on(used_memory(&redis)) - before) / (n - waiting) as i64;
            eprintln!("redis memory per waiting user: {per_user} bytes ({n} waiting)");
        }
        waiting = n;
        let first_uid = NEXT.load(Ordering::Relaxed);
        group.bench_with_input(BenchmarkId::new("misfits_waiting", n), &n, |b, _| {
            b.to_async(&rt)
                .iter_custom(|iters| timed_pairings(&redis, &cfg, iters, caller, fitting))
        });
        rt.block_on(clear_iterations(&redis, &prefix, first_uid));
    }
    group.finish();
    remove_all(&rt, &redis, &prefix);

    // languages and relaxed filters, on a pool of their own
    let mut group = c.benchmark_group("pair_script_languages");
    group.measurement_time(Duration::from_secs(if quick { 1 } else { 10 }));
    let many = *sizes.last().unwrap();
    let korean_caller = || speaking(caller(), &["ko"]);
    let korean_fitting = || speaking(fitting(), &["en", "ko"]);
    for n in [0, many] {
        rt.block_on(populate(&redis, &cfg, language_misfit, 0, n));
        // three relaxation steps later, every relaxed waiter filed again
        let mut reaper = cfg.clone();
        reaper.reap_batch = many as u64 + 1;
        rt.block_on(engine::reap(&redis, &reaper, 0, engine::now_ms() + 3500))
            .unwrap();
        let first_uid = NEXT.load(Ordering::Relaxed);
        group.bench_with_input(BenchmarkId::new("misfits_waiting", n), &n, |b, _| {
            b.to_async(&rt).iter_custom(|iters| {
                timed_pairings(&redis, &cfg, iters, korean_caller, korean_fitting)
            })
        });
        rt.block_on(clear_iterations(&redis, &prefix, first_uid));
    }
    group.finish();
    remove_all(&rt, &redis, &prefix);

    // the adversary's layout, on a pool of its own
    let mut group = c.benchmark_group("pair_script_spread");
    group.measurement_time(Duration::from_secs(if quick { 1 } else { 10 }));
    let spread = if quick { 400 } else { 10_000 };
    for n in [0, spread] {
        rt.block_on(populate(&redis, &cfg, spread_misfit, 0, n));
        let first_uid = NEXT.load(Ordering::Relaxed);
        group.bench_with_input(BenchmarkId::new("spread_misfits_waiting", n), &n, |b, _| {
            b.to_async(&rt)
                .iter_custom(|iters| timed_pairings(&redis, &cfg, iters, caller, fitting))
        });
        rt.block_on(clear_iterations(&redis, &prefix, first_uid));
    }
    group.finish();
    remove_all(&rt, &redis, &prefix);
}

/// `iters` pairing calls of the caller, each after the one fitting waiter joined:
/// the time of the caller's calls alone.
async fn timed_pairings(
    redis: &Redis,
    cfg: &MatchConfig,
    iters: u64,
    caller: impl Fn() -> Ticket,
    fitting: impl Fn() -> Ticket,
) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let now = engine::now_ms();
        engine::pair(redis, cfg, &fitting(), next(), now, false)
            .await
            .unwrap();
        let caller = caller();
        let started = Instant::now();
        let out = engine::pair(redis, cfg, &caller, next(), now, false)
            .await
            .unwrap();
        spent += started.elapsed();
        assert!(matches!(out, PairOutcome::Paired { .. }), "{out:?}");
    }
    spent
}

/// Deletes every key of the benchmark's prefix.
fn remove_all(rt: &tokio::runtime::Runtime, redis: &Redis, prefix: &str) {
    let keys: Vec<String> = rt
        .block_on(
            redis
                .pool
                .next()
                .custom(fred::cmd!("KEYS"), vec![format!("{prefix}*")]),
        )
        .unwrap();
    for chunk in keys.chunks(1000) {
        let _: i64 = rt.block_on(redis.pool.next().del(chunk.to_vec())).unwrap();
    }
}

criterion_group!(benches, pairing);
criterion_main!(benches);
