//! The whole HTTP round trip, against an in-process server on the real Redis
//! and Postgres of `REDIS_URL` / `DATABASE_URL`:
//! - `pair_request`: a `GET /api/match/random/` that finds a waiting partner;
//! - `match_cycle`: random (waits), random (pairs), both accept;
//! - `pair_request_spread`: the same pairing request with waiters who fit nobody
//!   spread over distinct classes in the caller's age range (none, then 10k in 5k
//!   classes: the bound of `pair.lua` on what a search looks at).
//!
//! `cargo bench --bench http` (under `cargo test` each case runs once).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::Connection;
use voxmatch::config::Config;
use voxmatch::startup::Application;
use voxmatch::state::AppState;

struct Server {
    url: String,
    state: AppState,
    client: reqwest::Client,
}

async fn server() -> Server {
    let database = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://voxmatch:voxmatch@127.0.0.1:15432/voxmatch_test".into());
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379".into());
    let tag = format!("{:08x}", rand::random::<u32>());
    let schema = format!("bench_{tag}");
    let mut admin = sqlx::PgConnection::connect(&database).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let vars = [
        ("DATABASE_URL", database),
        ("REDIS_URL", redis),
        ("DB_SCHEMA", schema),
        ("REDIS_KEY_PREFIX", format!("bench{tag}:")),
        ("BIND_ADDR", "127.0.0.1:0".into()),
        ("REMATCH_COOLDOWN_SEC", "0".into()),
        (
            "MEDIA_DIR",
            std::env::temp_dir()
                .join("voxmatch-bench")
                .display()
                .to_string(),
        ),
    ];
    let cfg = Config::from_source(&move |k: &str| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let app = Application::build(cfg).await.unwrap();
    let url = format!("http://{}", app.addr());
    let state = app.state.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    Server {
        url,
        state,
        client: reqwest::Client::new(),
    }
}

impl Server {
    /// A user of 30 made straight in the database, with a live session.
    async fn user(&self, gender: &str) -> String {
        self.user_of(gender, 30, None).await
    }

    /// A user made straight in the database with `settings` (and the gems they
    /// need), with a live session.
    async fn user_of(&self, gender: &str, age: i32, settings: Option<serde_json::Value>) -> String {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, age, gender) VALUES ($1, 'x', $2, $3) RETURNING id",
        )
        .bind(format!("b{:016x}", rand::random::<u64>()))
        .bind(age)
        .bind(gender)
        .fetch_one(&self.state.db)
        .await
        .unwrap();
        let token = self
            .state
            .tokens
            .start_session(&self.state.redis, id)
            .await
            .unwrap()
            .access;
        if let Some(settings) = settings {
            let reference = format!("{:016x}", rand::random::<u64>());
            voxmatch::gems::ledger::credit(&self.state.db, id, 1_000, "bench", &reference)
                .await
                .unwrap();
            let res = self
                .client
                .post(format!("{}/api/match/settings/", self.url))
                .bearer_auth(&token)
                .json(&settings)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        }
        token
    }

    /// `n` waiters, two to a class, every class in the age range 25-35 and none
    /// fitting a woman of 30 (as `benches/pairing.rs`): men whose own range
    /// excludes 30, and men in Seoul's 1° cell whose radius does not reach her.
    async fn spread(&self, n: usize) {
        for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
            futures_util::future::join_all(chunk.iter().map(|&i| async move {
                let class = i / 2;
                let age = 25 + (class % 11) as i32;
                let variant = class / 22;
                let settings = if class % 2 == 0 {
                    let (mut lo, mut left) = (31, variant as i64);
                    while left > 100 - lo {
                        left -= 101 - lo;
                        lo += 1;
                    }
                    serde_json::json!({"preferred_gender": "female", "age_range": [lo, lo + left]})
                } else {
                    serde_json::json!({
                        "preferred_gender": "female",
                        "age_range": [18 + (variant / 80) as i64, 100],
                        "radius_km": 1 + (variant % 80) as i64,
                        "location": {"lat": 37.95, "lng": 126.05},
                    })
                };
                let token = self.user_of("male", age, Some(settings)).await;
                let answer = self.random(&token).await;
                assert_eq!(answer["status"], "waiting", "{answer}");
            }))
            .await;
        }
    }

    async fn random(&self, token: &str) -> serde_json::Value {
        let res = self
            .client
            .get(format!("{}/api/match/random/?wait=0", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        res.json().await.unwrap()
    }

    async fn accept(&self, token: &str, match_id: &serde_json::Value) -> serde_json::Value {
        let body = serde_json::json!({"match_id": match_id, "decision": "accept"});
        let res = self
            .client
            .post(format!("{}/api/match/decision/", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        res.json().await.unwrap()
    }
}

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(server());
    let mut group = c.benchmark_group("http");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("pair_request", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let server = &server;
            async move {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let (a, b) = (server.user("female").await, server.user("male").await);
                    server.random(&a).await;
                    let started = Instant::now();
                    let found = server.random(&b).await;
                    spent += started.elapsed();
                    assert!(found["match_id"].is_i64(), "{found}");
                }
                spent
            }
        })
    });
    group.bench_function("match_cycle", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let server = &server;
            async move {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let (a, b) = (server.user("female").await, server.user("male").await);
                    let started = Instant::now();
                    server.random(&a).await;
                    let found = server.random(&b).await;
                    let (ra, rb) = tokio::join!(
                        server.accept(&a, &found["match_id"]),
                        server.accept(&b, &found["match_id"])
                    );
                    spent += started.elapsed();
                    assert_eq!(
                        (&ra["status"], &rb["status"]),
                        (&"matched".into(), &"matched".into())
                    );
                }
                spent
            }
        })
    });
    group.finish();

    let quick = !std::env::args().any(|a| a == "--bench");
    let spread = rt.block_on(self::server());
    let mut group = c.benchmark_group("http_spread");
    group.measurement_time(Duration::from_secs(5));
    for n in [0, if quick { 200 } else { 10_000 }] {
        rt.block_on(spread.spread(n));
        group.bench_function(format!("pair_request_spread/{n}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let server = &spread;
                async move {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let fits = server.user_of("male", 30, None).await;
                        let caller = serde_json::json!({
                            "preferred_gender": "male", "age_range": [25, 35],
                            "location": {"lat": 37.5665, "lng": 126.978},
                        });
                        let caller = server.user_of("female", 30, Some(caller)).await;
                        server.random(&fits).await;
                        let started = Instant::now();
                        let found = server.random(&caller).await;
                        spent += started.elapsed();
                        assert!(found["match_id"].is_i64(), "{found}");
                    }
                    spent
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, http);
criterion_main!(benches);
