//! Clients that hang up mid-request, floods of heavy work, a node killed mid-traffic:
//! nothing half-written, no free match, bounded memory (SPEC: Holding up in production).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::*;

/// A delay spread over the first milliseconds after a request is sent: the
/// points where a handler waits on Redis or Postgres.
fn cut_after(i: usize) -> Duration {
    Duration::from_micros(((i * 397) % 5000) as u64 + 100)
}

/// Gem purchases (a transaction each) abandoned at every point of their ~30 ms.
async fn abandon_purchases(app: &TestApp, users: &[Member], count: usize) {
    let lanes = (0..6).map(|lane| async move {
        for i in (lane..count).step_by(6) {
            let token = &users[i % users.len()].token;
            let body = json!({"payment_token": format!("test_1_{}", unique("cut"))});
            let request = http_request(
                "POST",
                "/api/gem/charge/",
                Some(token),
                "application/json",
                body.to_string().as_bytes(),
            );
            let after = Duration::from_micros((i as u64 * 211) % 30_000);
            hang_up(&app.url, request, after).await;
        }
    });
    futures_util::future::join_all(lanes).await;
}

#[tokio::test]
async fn requests_cut_at_any_point_leave_no_transaction_open_and_lose_no_answered_write() {
    // Postgres 2 ms away each way: every statement is a window to hang up in
    let link = slow_link("127.0.0.1:15432", Duration::from_millis(2)).await;
    let url = database_url().replace("127.0.0.1:15432", &link);
    let app = spawn_app_with(&[("DATABASE_URL", &url), ("DB_MAX_CONNECTIONS", "8")]).await;
    let mut users = Vec::new();
    for _ in 0..10 {
        users.push(member(&app, "male", 30).await);
    }
    let mut other = sqlx::PgConnection::connect(&database_url()).await.unwrap();
    for round in 0..4 {
        abandon_purchases(&app, &users, 120).await;
        // single-statement writes answered 2xx afterwards are all there, seen from
        // another connection (a connection left inside a transaction would swallow them)
        let age = 20 + round;
        for user in &users {
            let (status, body) = app
                .settings(&user.token, json!({"age_range": [age, 60]}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let settings: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}.match_settings WHERE age_min = $1",
            app.schema
        )))
        .bind(age)
        .fetch_one(&mut other)
        .await
        .unwrap();
        assert_eq!(
            settings,
            users.len() as i64,
            "round {round}: answered settings lost"
        );
        assert_eq!(connections_in_transaction(&app).await, 0, "round {round}");
    }
    for user in &users {
        let (balance, ledger) = balance_and_ledger(&app, user.id).await;
        assert_eq!(balance, ledger);
    }
}

#[tokio::test]
async fn a_filtered_match_is_charged_or_undone_whatever_the_client_does() {
    // every try pairs one man of 19 with the one woman of a distinct age who wants 19
    let app = spawn_app_with(&[("SHOW_TIME_SEC", "1"), ("REMATCH_COOLDOWN_SEC", "0")]).await;
    let tries = futures_util::future::join_all((0..40).map(|i| {
        let app = &app;
        async move {
            let age = 20 + i as i32;
            let partner = member(app, "female", age).await;
            settings(app, &partner, json!({"age_range": [19, 19]})).await;
            assert_eq!(app.random(&partner.token, 0).await.0, StatusCode::ACCEPTED);
            let mut partners_socket = websocket(&app.url, &partner.token).await;
            let caller = member(app, "male", 19).await;
            grant_gems(app, caller.id, 1).await;
            let filters = json!({"preferred_gender": "female", "age_range": [age, age]});
            settings(app, &caller, filters).await;
            let request = http_request(
                "GET",
                "/api/match/random/?wait=0",
                Some(&caller.token),
                "application/json",
                b"",
            );
            // most hang up while the request is served; every fourth waits long enough
            // for the server to start it, so the charged path is always taken too
            let after = if i % 4 == 3 {
                Duration::from_millis(50 + 10 * i as u64)
            } else {
                cut_after(i * 7)
            };
            hang_up(&app.url, request, after).await;
            // the partner is told of the match if (and only if) it was made and paid
            // for; what was paid and not announced comes back past the decision window
            let started = std::time::Instant::now();
            let mut announced = false;
            loop {
                if !announced {
                    announced =
                        found_within(&mut partners_socket, Duration::from_millis(200)).await;
                }
                let (balance, ledger) = balance_and_ledger(app, caller.id).await;
                // past the decision window and a few housekeeping runs either way: an
                // announced match must not be refunded, an unannounced one must be
                let settled = started.elapsed() > Duration::from_secs(4);
                let owed = if announced { 0 } else { 1 };
                if settled && balance == ledger && balance == owed
                    || started.elapsed() > Duration::from_secs(20)
                {
                    return (i, (announced, (balance, ledger)));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }))
    .await;
    for (i, (announced, (balance, ledger))) in &tries {
        assert_eq!(balance, ledger, "try {i}");
        let expected = if *announced { 0 } else { 1 };
        assert_eq!(
            *balance, expected,
            "try {i}: match announced {announced}, balance {balance}"
        );
    }
    assert!(tries.iter().any(|(_, (announced, _))| *announced));
}

/// Whether a `match_found` event arrives on `socket` within `limit`.
async fn found_within(socket: &mut Socket, limit: Duration) -> bool {
    tokio::time::timeout(limit, next_event(socket, "match_found"))
        .await
        .is_ok()
}

/// A PNG of `width` x `height` zero pixels whose data holds only `rows` rows:
/// all of them make a decompression bomb (8000 x 8000: 192 MB of pixels in about
/// 200 KB); one is enough for a header to be read.
pub fn png_of(width: u32, height: u32, rows: u32) -> Vec<u8> {
    use std::io::Write;
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; 1 + width as usize * 3];
    for _ in 0..rows {
        z.write_all(&row).unwrap();
    }
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&z.finish().unwrap());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for chunk in [ihdr, idat, b"IEND".to_vec()] {
        png.extend_from_slice(&(chunk.len() as u32 - 4).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// `n` accounts sharing one password (one argon2 hash made through the API).
async fn accounts(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let first = app.signup().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(first.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let mut names = vec![first.username];
    for _ in 1..n {
        let name = unique("a");
        sqlx::query(
            "INSERT INTO users (username, password_hash, age, gender) VALUES ($1, $2, 30, 'male')",
        )
        .bind(&name)
        .bind(&hash)
        .execute(&app.state.db)
        .await
        .unwrap();
        names.push(name);
    }
    names
        .into_iter()
        .map(|n| (n, first.password.clone()))
        .collect()
}

#[tokio::test]
async fn a_flood_of_logins_and_image_bombs_keeps_memory_bounded() {
    let app = spawn_app().await;
    let accounts = accounts(&app, 40).await;
    let server = spawn_process_with(&app, &[("HEAVY_JOBS", "2"), ("HEAVY_QUEUE", "64")]).await;
    let bomb = png_of(8000, 8000, 8000);
    let logins = accounts.iter().map(|(username, password)| {
        app.client
            .post(format!("{}/api/auth/login/", server.url))
            .json(&json!({"username": username, "password": password}))
            .send()
    });
    let uploads = (0..8).map(|_| {
        let form = signup_form(&unique("b"), "password1", "30", "male")
            .part("profile_image", image_part(bomb.clone(), "b.png"));
        app.client
            .post(format!("{}/api/auth/signup/", server.url))
            .multipart(form)
            .send()
    });
    let (logins, uploads) = tokio::join!(
        futures_util::future::join_all(logins),
        futures_util::future::join_all(uploads)
    );
    for res in logins {
        assert_eq!(res.unwrap().status(), StatusCode::OK);
    }
    for res in uploads {
        let (status, body) = parts(res.unwrap()).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                validation("profile_image: at most 40 megapixels")
            )
        );
    }
    // 2 argon2 hashes of 19 MiB at a time, bombs refused from their header
    let peak = peak_rss_mb(server.pid());
    assert!(peak < 120, "peak RSS {peak} MB");
}

#[tokio::test]
async fn past_the_queue_heavy_work_is_refused_with_503_and_retry_after() {
    let app = spawn_app_with(&[("HEAVY_JOBS", "1"), ("HEAVY_QUEUE", "1")]).await;
    let accounts = accounts(&app, 12).await;
    let logins = accounts.iter().map(|(username, password)| {
        app.client
            .post(app.at("/api/auth/login/"))
            .json(&json!({"username": username, "password": password}))
            .send()
    });
    let mut refused = 0;
    for res in futures_util::future::join_all(logins).await {
        let res = res.unwrap();
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(res.headers()["retry-after"], "1");
            let (_, body) = parts(res).await;
            assert_eq!(
                body,
                json!({"error": "Service unavailable", "code": "server_busy"})
            );
            refused += 1;
        } else {
            assert_eq!(res.status(), StatusCode::OK);
        }
    }
    assert!(
        refused >= 1,
        "one running and one waiting, the rest refused"
    );
    // the queue drains: the next login works
    let (username, password) = &accounts[0];
    assert_eq!(app.login(username, password).await.0, StatusCode::OK);
}

/// The pool ticket of a member who asks for `preferred` (costing `cost` gems),
/// as a node builds it.
fn ticket(m: &Member, gender: &str, age: i32, preferred: &str, cost: i64) -> Ticket {
    use voxmatch::matching::model::Preferred;
    use voxmatch::users::model::Gender;
    Ticket {
        uid: m.id,
        shard: 0,
        gender: Gender::parse(gender).unwrap(),
        age,
        preferred: Preferred::parse(preferred).unwrap(),
        age_min: 18,
        age_max: 100,
        radius_km: 0,
        location: None,
        cost,
        balance: 1,
        card: json!({"id": m.id, "username": m.username}).to_string(),
        excluded: Vec::new(),
        reach: Reach::plain(age),
    }
}

use voxmatch::matching::engine::{self, PairOutcome, Ticket};
use voxmatch::matching::reach::Reach;

/// Users waiting in the pool, and matches waiting for their decisions.
async fn in_the_pool(app: &TestApp) -> (i64, i64) {
    use fred::prelude::*;
    let pool = format!("{}{{pool:global}}", app.prefix);
    let redis = &app.state.redis.pool;
    let waiting: i64 = redis.zcard(format!("{pool}:seen")).await.unwrap();
    let undecided: i64 = redis.zcard(format!("{pool}:deadlines")).await.unwrap();
    (waiting, undecided)
}

/// A node pairs a filtered caller with a waiting partner, then dies: it may
/// have charged the gems (`charged`) or not.
async fn pair_then_die(app: &TestApp, charged: bool) -> (Member, Member, i64) {
    let partner = member(app, "female", 25).await;
    assert_eq!(app.random(&partner.token, 0).await.0, StatusCode::ACCEPTED);
    let caller = member(app, "male", 25).await;
    grant_gems(app, caller.id, 1).await;
    let (state, cfg) = (&app.state, &app.state.cfg.matching);
    let match_id = state.match_ids.next(&state.db, 0).await.unwrap();
    let outcome = engine::pair(
        &state.redis,
        cfg,
        &ticket(&caller, "male", 25, "female", 1),
        match_id,
        engine::now_ms(),
        false,
    )
    .await
    .unwrap();
    assert!(matches!(outcome, PairOutcome::Paired { .. }), "{outcome:?}");
    if charged {
        voxmatch::gems::ledger::charge_for_match(&state.db, match_id, &[(caller.id, 1)])
            .await
            .unwrap();
    }
    (caller, partner, match_id)
}

#[tokio::test]
async fn a_pair_whose_node_died_before_charging_is_never_shown_and_ends_at_its_deadline() {
    let app = spawn_app_with(&[("SHOW_TIME_SEC", "1"), ("REMATCH_COOLDOWN_SEC", "0")]).await;
    let (caller, partner, match_id) = pair_then_die(&app, false).await;
    // not announced: the partner is not shown it, nobody can decide it
    assert_eq!(app.random(&partner.token, 0).await.0, StatusCode::ACCEPTED);
    assert_eq!(
        app.decide(&partner.token, match_id, "accept").await.0,
        StatusCode::NOT_FOUND
    );
    // past its deadline the housekeeping ends it
    assert_eq!(eventually(|| in_the_pool(&app), |c| c.1 == 0).await.1, 0);
    assert_eq!(balance_and_ledger(&app, caller.id).await, (1, 1));
    // both are free to be paired again (and this time it is paid for)
    assert_eq!(app.random(&partner.token, 0).await.0, StatusCode::ACCEPTED);
    let (status, body) = app
        .settings(&caller.token, json!({"preferred_gender": "female"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.random(&caller.token, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], partner.id);
    assert_eq!(balance_and_ledger(&app, caller.id).await, (0, 0));
}

#[tokio::test]
async fn gems_charged_for_a_pair_that_was_never_announced_come_back() {
    let app = spawn_app_with(&[("SHOW_TIME_SEC", "1")]).await;
    let (caller, partner, match_id) = pair_then_die(&app, true).await;
    assert_eq!(balance_and_ledger(&app, caller.id).await, (0, 0));
    assert_eq!(app.random(&partner.token, 0).await.0, StatusCode::ACCEPTED);
    // past the deadline the housekeeping of any node gives the gem back, once
    let refunded = eventually(|| balance_and_ledger(&app, caller.id), |b| *b == (1, 1)).await;
    assert_eq!(refunded, (1, 1));
    let refunds: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM gem_ledger WHERE ref = $1 AND reason = 'match_refund'",
    )
    .bind(match_id.to_string())
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(refunds, 1);
}

#[tokio::test]
async fn a_queued_user_whose_ticket_vanished_is_dropped_not_looped_over() {
    let app = spawn_app().await;
    let waiter = member(&app, "female", 25).await;
    assert_eq!(app.random(&waiter.token, 0).await.0, StatusCode::ACCEPTED);
    // the ticket is evicted (maxmemory) while the queues still hold the user
    use fred::prelude::*;
    let redis = &app.state.redis.pool;
    let pool = format!("{}{{pool:global}}", app.prefix);
    let _: i64 = redis
        .del(format!("{pool}:ticket:{}", waiter.id))
        .await
        .unwrap();
    let caller = member(&app, "male", 25).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), app.random(&caller.token, 0))
        .await
        .expect("the pairing script returns");
    assert_eq!(answer.0, StatusCode::ACCEPTED);
    let score: Option<f64> = redis
        .zscore(format!("{pool}:seen"), waiter.id)
        .await
        .unwrap();
    assert_eq!(score, None);
    // and the caller, now waiting, is found by the next one who fits
    let next = member(&app, "female", 26).await;
    let (status, body) = app.random(&next.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["matched_user"]["id"], caller.id);
}

/// What a stretch of traffic was answered with.
#[derive(Default)]
struct Answered {
    /// Payment tokens answered 200.
    purchases: Vec<String>,
    /// (match id, user) shown to a user who pays for filtered matches.
    paid_matches: Vec<(i64, i64)>,
    /// Every 5xx a completed request got.
    server_errors: Vec<String>,
    requests: u64,
    abandoned: u64,
}

/// One user's traffic against `base` while `running` holds: matching (filtered users pay a
/// gem a match), decisions and purchases; a share `drop` of the requests is
/// abandoned at a random point instead of being answered.
async fn traffic(
    base: String,
    user: Member,
    filtered: bool,
    running: Arc<AtomicBool>,
    drop: f64,
    answered: Arc<Mutex<Answered>>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    while running.load(Ordering::Relaxed) {
        let pick: f64 = rand::random();
        if rand::random::<f64>() < drop {
            let request = if pick < 0.6 {
                http_request(
                    "GET",
                    "/api/match/random/?wait=1",
                    Some(&user.token),
                    "application/json",
                    b"",
                )
            } else {
                let body = json!({"payment_token": format!("test_1_{}", unique("drop"))});
                http_request(
                    "POST",
                    "/api/gem/charge/",
                    Some(&user.token),
                    "application/json",
                    body.to_string().as_bytes(),
                )
            };
            let after = Duration::from_micros(rand::random::<u64>() % 5000);
            hang_up(&base, request, after).await;
            answered.lock().unwrap().abandoned += 1;
            continue;
        }
        let res = if pick < 0.6 {
            client
                .get(format!("{base}/api/match/random/?wait=1"))
                .bearer_auth(&user.token)
                .send()
                .await
        } else {
            let token = format!("test_1_{}", unique("kept"));
            let res = client
                .post(format!("{base}/api/gem/charge/"))
                .bearer_auth(&user.token)
                .json(&json!({"payment_token": token}))
                .send()
                .await;
            if let Ok(res) = &res
                && res.status() == StatusCode::OK
            {
                answered.lock().unwrap().purchases.push(token);
            }
            res
        };
        let Ok(res) = res else {
            // the node went away (a drill): this client stops
            return;
        };
        let status = res.status();
        let Ok(body) = res.json::<serde_json::Value>().await else {
            return;
        };
        {
            let mut a = answered.lock().unwrap();
            a.requests += 1;
            if status.is_server_error() {
                a.server_errors.push(format!("{status} {body}"));
            }
        }
        if let Some(match_id) = body["match_id"]
            .as_i64()
            .filter(|_| status == StatusCode::OK)
        {
            if filtered {
                answered
                    .lock()
                    .unwrap()
                    .paid_matches
                    .push((match_id, user.id));
            }
            let decision = if rand::random::<bool>() {
                "accept"
            } else {
                "reject"
            };
            let _ = client
                .post(format!("{base}/api/match/decision/"))
                .bearer_auth(&user.token)
                .json(&json!({"match_id": match_id, "decision": decision}))
                .send()
                .await;
        }
    }
}

/// Users for traffic: half of them pay a gem for each (filtered) match.
async fn crowd(app: &TestApp, n: usize) -> Vec<(Member, bool)> {
    let mut users = Vec::new();
    for i in 0..n {
        let (gender, filtered) = (if i % 2 == 0 { "male" } else { "female" }, i % 4 == 0);
        let m = member(app, gender, 20 + (i % 30) as i32).await;
        if filtered {
            grant_gems(app, m.id, 1000).await;
            let (status, _) = app
                .settings(&m.token, json!({"preferred_gender": "female"}))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        users.push((m, filtered));
    }
    users
}

/// What must hold after any traffic, once it settled: answered purchases kept,
/// balances equal to ledgers, every match shown to a paying user paid for and
/// never refunded, no connection inside a transaction.
async fn assert_nothing_half_written(app: &TestApp, users: &[(Member, bool)], answered: &Answered) {
    let mut other = sqlx::PgConnection::connect(&database_url()).await.unwrap();
    let kept: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.payments WHERE payment_token = ANY($1)",
        app.schema
    )))
    .bind(&answered.purchases)
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert_eq!(
        kept,
        answered.purchases.len() as i64,
        "answered purchases lost"
    );
    for (user, _) in users {
        let (balance, ledger) = balance_and_ledger(app, user.id).await;
        assert_eq!(balance, ledger, "user {}", user.id);
    }
    for &(match_id, uid) in &answered.paid_matches {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT reason FROM gem_ledger WHERE ref = $1 AND user_id = $2 ORDER BY id",
        )
        .bind(match_id.to_string())
        .bind(uid)
        .fetch_all(&app.state.db)
        .await
        .unwrap();
        assert_eq!(rows, ["filter_match"], "match {match_id} shown to {uid}");
    }
    // a transaction in flight (the housekeeping's refunds) ends in moments; one left open
    // would stay until the idle timeout, which these tests set past eventually()'s 20 s
    assert_eq!(
        eventually(|| connections_in_transaction(app), |&n| n == 0).await,
        0
    );
}

/// Settings of the traffic tests: `vars`, and a transaction left open is not ended by
/// Postgres before assert_nothing_half_written() would see it.
fn with_open_transactions_kept<'a>(vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vars.to_vec();
    all.push(("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", "60000"));
    all
}

#[tokio::test]
async fn thirty_seconds_of_traffic_with_clients_dropping_at_random() {
    let vars =
        with_open_transactions_kept(&[("SHOW_TIME_SEC", "2"), ("REMATCH_COOLDOWN_SEC", "0")]);
    let app = spawn_app_with(&vars).await;
    let node = spawn_process_with(&app, &vars).await;
    let users = crowd(&app, 24).await;
    let answered = Arc::new(Mutex::new(Answered::default()));
    let running = Arc::new(AtomicBool::new(true));
    let clients = users.iter().map(|(m, filtered)| {
        let user = Member {
            id: m.id,
            username: m.username.clone(),
            token: m.token.clone(),
        };
        tokio::spawn(traffic(
            node.url.clone(),
            user,
            *filtered,
            running.clone(),
            0.3,
            answered.clone(),
        ))
    });
    let clients = futures_util::future::join_all(clients);
    let enough = async {
        // 30 s, and longer on a slow machine until enough was served and abandoned
        tokio::time::sleep(Duration::from_secs(30)).await;
        let counts = || {
            let a = answered.lock().unwrap();
            std::future::ready((a.requests, a.abandoned))
        };
        eventually(counts, |&(requests, abandoned)| {
            requests > 500 && abandoned > 200
        })
        .await;
        running.store(false, Ordering::Relaxed);
    };
    tokio::join!(clients, enough);
    // deadlines pass, refunds run (and a few more housekeeping runs, for a wrong one)
    eventually(|| in_the_pool(&app), |c| c.1 == 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    assert!(
        answered.server_errors.is_empty(),
        "{:?}",
        answered.server_errors
    );
    assert!(
        answered.requests > 500 && answered.abandoned > 200,
        "{} answered, {} abandoned",
        answered.requests,
        answered.abandoned
    );
    assert!(!answered.paid_matches.is_empty());
    assert_nothing_half_written(&app, &users, &answered).await;
    let peak = peak_rss_mb(node.pid());
    assert!(peak < 150, "peak RSS {peak} MB");
}

#[tokio::test]
async fn a_node_killed_mid_traffic_loses_no_answered_write_and_leaves_nobody_stuck() {
    let vars = with_open_transactions_kept(&[
        ("SHOW_TIME_SEC", "1"),
        ("REMATCH_COOLDOWN_SEC", "0"),
        ("GHOST_TIMEOUT_SEC", "1"),
    ]);
    let app = spawn_app_with(&vars).await;
    let mut node = spawn_process_with(&app, &vars).await;
    let users = crowd(&app, 16).await;
    let answered = Arc::new(Mutex::new(Answered::default()));
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = users
        .iter()
        .map(|(m, filtered)| {
            let user = Member {
                id: m.id,
                username: m.username.clone(),
                token: m.token.clone(),
            };
            tokio::spawn(traffic(
                node.url.clone(),
                user,
                *filtered,
                running.clone(),
                0.0,
                answered.clone(),
            ))
        })
        .collect();
    // mid-traffic: once the node has answered 50 requests, however fast it goes
    let served = || std::future::ready(answered.lock().unwrap().requests);
    assert!(eventually(served, |&n| n > 50).await > 50);
    node.kill();
    futures_util::future::join_all(clients).await;
    running.store(false, Ordering::Relaxed);
    // a new node takes over; ghosts and undecided matches clear, unpaid pairs are refunded
    let restarted = spawn_process_with(&app, &vars).await;
    assert_eq!(
        eventually(|| in_the_pool(&app), |c| *c == (0, 0)).await,
        (0, 0),
        "nobody left in the pool or in a match"
    );
    // the refunds of what ended unpaid follow the housekeeping run that ended it: a
    // few more runs (500 ms apart) for a wrong refund of a paid match to show
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    assert_nothing_half_written(&app, &users, &answered).await;
    // and everybody can be matched again through the new node
    let (a, b) = (
        member(&app, "female", 40).await,
        member(&app, "male", 40).await,
    );
    let client = reqwest::Client::new();
    let random = |token: &str| {
        client
            .get(format!("{}/api/match/random/?wait=0", restarted.url))
            .bearer_auth(token.to_owned())
            .send()
    };
    random(&a.token).await.unwrap();
    assert_eq!(random(&b.token).await.unwrap().status(), StatusCode::OK);
}

/// A connection to Redis that drops after a script ran but before its answer
/// came back: the script is not sent again, the caller gets an error (a 503).
/// Sent again after a failover, it would run on the promoted replica, which may
/// lack the first run's writes: the failover drill saw a pairing run twice with
/// the same match id, shown to three users.
#[tokio::test]
async fn a_script_whose_answer_is_lost_is_not_run_again() {
    let upstream = redis_url();
    let host = upstream.trim_start_matches("redis://");
    let host = host.split('/').next().unwrap();
    let (relay, lose_next_answer) = lossy_link(host).await;
    let counter = RunCounter::connect(&format!("redis://{relay}")).await;
    let key = format!("{}:runs", unique("t"));
    assert_eq!(counter.run(&key).await.unwrap(), 1);
    lose_next_answer.store(true, Ordering::SeqCst);
    let lost = counter.run(&key).await;
    assert!(lost.is_err(), "{lost:?}");
    // it ran once: the next run, on a new connection, counts 3
    assert_eq!(counter.run(&key).await.unwrap(), 3);
}
