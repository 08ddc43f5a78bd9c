//! Load generator: many virtual users against a voxmatch server on this
//! machine (loopback only), bounded in time and count.
//!
//! Phases, in one run:
//! 1. sign-up (`/api/auth/signup/`) and settings for every virtual user;
//! 2. the match cycle, closed loop: each user loops random → accept; a tenth
//!    of them also hold a WebSocket and count `match_found` events;
//! 3. open loop at a fixed arrival rate: a waiting request, the request that
//!    finds it (the one whose latency is reported), a reject;
//! 4. cancel, once per user;
//! 5. the raw ceiling: EVALSHA of the pairing script straight against Redis,
//!    the same script calls the match cycle makes, without HTTP.
//!
//! The server should run with `REMATCH_COOLDOWN_SEC=0` (users meet again
//! within the run) and a high `SIGNUP_IP_LIMIT`; see BENCHMARKS.md.
//!
//! `loadgen [--url U] [--redis R] [--users N] [--seconds S] [--rate R] [--max-requests M]`

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use voxmatch::auth::validate::Gender;
use voxmatch::config::Config;
use voxmatch::matching::engine::{self, PairOutcome, Ticket};
use voxmatch::matching::model::Preferred;
use voxmatch::redis::Redis;

struct Args {
    url: String,
    redis: String,
    users: usize,
    seconds: u64,
    rate: u64,
    max_requests: u64,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        redis: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379".into()),
        users: 1000,
        seconds: 20,
        rate: 1000,
        max_requests: 5_000_000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        let number = || value.parse::<u64>().expect("a number");
        match pair[0].as_str() {
            "--url" => a.url = value.trim_end_matches('/').to_owned(),
            "--redis" => a.redis = value,
            "--users" => a.users = number() as usize,
            "--seconds" => a.seconds = number(),
            "--rate" => a.rate = number(),
            "--max-requests" => a.max_requests = number(),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Only this machine is a target.
fn assert_loopback(url: &str) {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(|hp| {
            hp.rsplit_once(':')
                .map_or(hp, |(h, _)| h)
                .trim_matches(['[', ']'])
        })
        .unwrap_or_default();
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    assert!(
        loopback,
        "loadgen only targets loopback addresses, not {host}"
    );
}

/// Latencies (µs) of one kind of request.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn add(&mut self, started: Instant) {
        self.0.push(started.elapsed().as_micros() as u64);
    }

    fn report(&mut self, name: &str, seconds: f64) {
        if self.0.is_empty() {
            println!("{name:<28} no requests");
            return;
        }
        self.0.sort_unstable();
        let at = |q: f64| self.0[((self.0.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        println!(
            "{name:<28} {:>8} req  {:>9.1} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms",
            self.0.len(),
            self.0.len() as f64 / seconds,
            at(0.50),
            at(0.95),
            at(0.99),
            at(1.0)
        );
    }
}

struct User {
    token: String,
}

struct Budget {
    sent: AtomicU64,
    max: u64,
    until: Instant,
}

impl Budget {
    fn take(&self) -> bool {
        Instant::now() < self.until && self.sent.fetch_add(1, Ordering::Relaxed) < self.max
    }
}

async fn signup(client: &reqwest::Client, url: &str, name: &str, gender: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("username", name.to_owned())
        .text("password", "loadgen-password")
        .text("age", "30")
        .text("gender", gender.to_owned());
    let res = client
        .post(format!("{url}/api/auth/signup/"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "signup: {}",
        res.text().await.unwrap_or_default()
    );
    let body: Value = res.json().await.unwrap();
    body["access"].as_str().unwrap().to_owned()
}

async fn random(client: &reqwest::Client, url: &str, token: &str, wait: u64) -> (u16, Value) {
    let res = client
        .get(format!("{url}/api/match/random/?wait={wait}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn decide(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    id: &Value,
    decision: &str,
) -> Value {
    let res = client
        .post(format!("{url}/api/match/decision/"))
        .bearer_auth(token)
        .json(&json!({"match_id": id, "decision": decision}))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap_or(Value::Null)
}

/// Phase 1: users sign up and save their settings.
async fn setup(client: &reqwest::Client, a: &Args) -> Vec<User> {
    let run = format!("{:06x}", rand::random::<u32>() & 0xffffff);
    let started = Instant::now();
    let mut users = Vec::with_capacity(a.users);
    let mut samples = Samples::default();
    for chunk in (0..a.users).collect::<Vec<_>>().chunks(16) {
        let made = futures_util::future::join_all(chunk.iter().map(|&i| {
            let gender = if i % 2 == 0 { "female" } else { "male" };
            let name = format!("lg{run}_{i}");
            async move {
                let t = Instant::now();
                let token = signup(client, &a.url, &name, gender).await;
                let res = client
                    .post(format!("{}/api/match/settings/", a.url))
                    .bearer_auth(&token)
                    .json(&json!({"preferred_gender": "all", "age_range": [18, 100]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                (t, token)
            }
        }))
        .await;
        for (t, token) in made {
            samples.add(t);
            users.push(User { token });
        }
    }
    samples.report("signup + settings", started.elapsed().as_secs_f64());
    users
}

/// Phase 2: every user loops random → accept until the budget runs out.
async fn match_cycle(client: &reqwest::Client, a: &Args, users: &[User]) {
    let budget = Arc::new(Budget {
        sent: AtomicU64::new(0),
        max: a.max_requests,
        until: Instant::now() + Duration::from_secs(a.seconds),
    });
    let matched = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ws_url = a.url.replacen("http", "ws", 1);
    let mut sockets = Vec::new();
    for user in users.iter().step_by(10) {
        let url = format!("{ws_url}/ws?token={}", user.token);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let (events, stop) = (events.clone(), stop.clone());
        sockets.push(tokio::spawn(async move {
            let (_, mut rx) = socket.split();
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), rx.next()).await {
                    Ok(Some(Ok(m))) if m.to_text().is_ok_and(|t| t.contains("\"match_found\"")) => {
                        events.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(_) => break,
                }
            }
        }));
    }
    let started = Instant::now();
    let tasks = users.iter().map(|user| {
        let (budget, matched) = (budget.clone(), matched.clone());
        async move {
            let (mut rnd, mut dec) = (Samples::default(), Samples::default());
            while budget.take() {
                let t = Instant::now();
                let (status, body) = random(client, &a.url, &user.token, 2).await;
                rnd.add(t);
                if status != 200 || !budget.take() {
                    continue;
                }
                let t = Instant::now();
                let outcome =
                    decide(client, &a.url, &user.token, &body["match_id"], "accept").await;
                dec.add(t);
                if outcome["status"] == "matched" {
                    matched.fetch_add(1, Ordering::Relaxed);
                }
            }
            (rnd, dec)
        }
    });
    let results = futures_util::future::join_all(tasks).await;
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for s in sockets {
        let _ = s.await;
    }
    let (mut rnd, mut dec) = (Samples::default(), Samples::default());
    for (r, d) in results {
        rnd.0.extend(r.0);
        dec.0.extend(d.0);
    }
    let requests = (rnd.0.len() + dec.0.len()) as f64;
    println!(
        "\n== match cycle, closed loop, {} users, {seconds:.1} s",
        users.len()
    );
    rnd.report("GET /api/match/random/", seconds);
    dec.report("POST /api/match/decision/", seconds);
    let pairs = matched.load(Ordering::Relaxed) as f64 / 2.0;
    println!(
        "match cycle: {:.0} HTTP req/s, {:.0} pairs/s (matched)",
        requests / seconds,
        pairs / seconds
    );
    println!(
        "websocket match_found events received: {}",
        events.load(Ordering::Relaxed)
    );
}

/// Phase 3: pairs of users arrive at a fixed rate; per pair: a request that
/// waits, the request that finds it (reported), a reject.
async fn open_loop(client: &reqwest::Client, a: &Args, users: Vec<User>) -> Vec<User> {
    let (women, men): (Vec<_>, Vec<_>) =
        users.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let women = Arc::new(Mutex::new(
        women.into_iter().map(|(_, u)| u).collect::<VecDeque<_>>(),
    ));
    let men = Arc::new(Mutex::new(
        men.into_iter().map(|(_, u)| u).collect::<VecDeque<_>>(),
    ));
    let found = Arc::new(std::sync::Mutex::new(Samples::default()));
    let missed = Arc::new(AtomicU64::new(0));
    let every = Duration::from_secs_f64(3.0 / a.rate as f64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let until = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut inflight = Vec::new();
    while Instant::now() < until {
        tick.tick().await;
        let (w, m) = (women.lock().await.pop_front(), men.lock().await.pop_front());
        let (Some(w), Some(m)) = (w, m) else {
            missed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (women, men, found, url) = (women.clone(), men.clone(), found.clone(), a.url.clone());
        let client = client.clone();
        inflight.push(tokio::spawn(async move {
            random(&client, &url, &w.token, 0).await;
            let t = Instant::now();
            let (status, body) = random(&client, &url, &m.token, 0).await;
            if status == 200 {
                found.lock().unwrap().add(t);
                decide(&client, &url, &m.token, &body["match_id"], "reject").await;
            } else {
                // the waiting side was taken by another arrival; leave the pool
                client
                    .post(format!("{url}/api/match/cancel/"))
                    .bearer_auth(&m.token)
                    .send()
                    .await
                    .unwrap();
            }
            // the woman may be matched with someone else's arrival: end that too
            client
                .post(format!("{url}/api/match/cancel/"))
                .bearer_auth(&w.token)
                .send()
                .await
                .unwrap();
            women.lock().await.push_back(w);
            men.lock().await.push_back(m);
        }));
    }
    for task in inflight {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "\n== open loop: {} req/s offered (random, random, decision per pair), {seconds:.1} s",
        a.rate
    );
    found
        .lock()
        .unwrap()
        .report("random that finds a partner", seconds);
    println!(
        "arrivals skipped for want of free users: {}",
        missed.load(Ordering::Relaxed)
    );
    let mut users = Vec::new();
    let (mut women, mut men) = (women.lock().await, men.lock().await);
    users.extend(women.drain(..));
    users.extend(men.drain(..));
    users
}

/// Phase 4: everyone cancels once.
async fn cancel_all(client: &reqwest::Client, a: &Args, users: &[User]) {
    let started = Instant::now();
    let mut samples = Samples::default();
    for chunk in users.chunks(64) {
        let done = futures_util::future::join_all(chunk.iter().map(|u| async move {
            let t = Instant::now();
            let res = client
                .post(format!("{}/api/match/cancel/", a.url))
                .bearer_auth(&u.token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            t
        }))
        .await;
        for t in done {
            samples.add(t);
        }
    }
    samples.report("POST /api/match/cancel/", started.elapsed().as_secs_f64());
}

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
    }
}

/// Phase 5: the pairing script straight against Redis, as the cycle calls it.
async fn raw_ceiling(a: &Args) {
    let prefix = format!("loadgen{:08x}:", rand::random::<u32>());
    let (url, key_prefix) = (a.redis.clone(), prefix.clone());
    let cfg = Config::from_source(&move |k: &str| match k {
        "REDIS_URL" => Some(url.clone()),
        "REDIS_KEY_PREFIX" => Some(key_prefix.clone()),
        "REDIS_POOL_SIZE" => Some("8".into()),
        "REMATCH_COOLDOWN_SEC" => Some("0".into()),
        _ => None,
    })
    .unwrap();
    let redis = Redis::connect(&cfg).await.expect("redis");
    let mcfg = &cfg.matching;
    let next = AtomicU64::new(1);
    let until = Instant::now() + Duration::from_secs(a.seconds.min(10));
    let started = Instant::now();
    let calls = futures_util::future::join_all((0..32).map(|_| async {
        let mut calls = 0u64;
        while Instant::now() < until {
            let id = next.fetch_add(2, Ordering::Relaxed) as i64;
            let now = engine::now_ms();
            let w = engine::pair(&redis, mcfg, &raw_ticket(id, Gender::Female), id, now)
                .await
                .unwrap();
            let m = engine::pair(&redis, mcfg, &raw_ticket(id + 1, Gender::Male), id + 1, now)
                .await
                .unwrap();
            debug_assert!(matches!(
                w,
                PairOutcome::Waiting | PairOutcome::Paired { .. }
            ));
            debug_assert!(matches!(
                m,
                PairOutcome::Waiting | PairOutcome::Paired { .. }
            ));
            calls += 2;
        }
        calls
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let total: u64 = calls.iter().sum();
    println!(
        "\n== raw ceiling: EVALSHA pair.lua straight to Redis, 32 in flight: {:.0} calls/s ({total} calls, {seconds:.1} s)",
        total as f64 / seconds
    );
    println!(
        "   target for the match cycle (25%): {:.0} HTTP req/s",
        total as f64 / seconds * 0.25
    );
    let keys: Vec<String> = fred::prelude::ClientLike::custom(
        redis.pool.next(),
        fred::cmd!("KEYS"),
        vec![format!("{prefix}*")],
    )
    .await
    .unwrap();
    for chunk in keys.chunks(1000) {
        let _: i64 = fred::prelude::KeysInterface::del(&redis.pool, chunk.to_vec())
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    assert_loopback(&a.url);
    assert_loopback(&a.redis.replacen("redis", "http", 1));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    println!(
        "== loadgen against {} with {} users, {} s per phase",
        a.url, a.users, a.seconds
    );
    let users = setup(&client, &a).await;
    match_cycle(&client, &a, &users).await;
    cancel_all(&client, &a, &users).await;
    let users = open_loop(&client, &a, users).await;
    cancel_all(&client, &a, &users).await;
    raw_ceiling(&a).await;
}
