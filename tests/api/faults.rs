//! Clients that hang up mid-request, floods of heavy work, a node killed mid-traffic:
//! nothing half-written, no free match, bounded memory (SPEC: Holding up in production).

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
            let (status, _) = app
                .settings(&partner.token, json!({"age_range": [19, 19]}))
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(app.random(&partner.token, 0).await.0, StatusCode::ACCEPTED);
            let caller = member(app, "male", 19).await;
            grant_gems(app, caller.id, 1).await;
            let (status, _) = app
                .settings(
                    &caller.token,
                    json!({"preferred_gender": "female", "age_range": [age, age]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            let request = http_request(
                "GET",
                "/api/match/random/?wait=0",
                Some(&caller.token),
                "application/json",
                b"",
            );
            hang_up(&app.url, request, cut_after(i * 7)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            // the partner sees the match if (and only if) it was made and paid for
            let (status, body) = app.random(&partner.token, 0).await;
            let visible = status == StatusCode::OK && body["matched_user"]["id"] == caller.id;
            // past the decision window, whatever was not announced is refunded
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let (balance, ledger) = balance_and_ledger(app, caller.id).await;
            assert_eq!(balance, ledger);
            (visible, balance)
        }
    }))
    .await;
    for (i, (visible, balance)) in tries.iter().enumerate() {
        let expected = if *visible { 0 } else { 1 };
        assert_eq!(
            *balance, expected,
            "try {i}: match visible {visible}, balance {balance}"
        );
    }
    assert!(tries.iter().any(|(visible, _)| *visible));
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
            assert_eq!(body, json!({"error": "Service unavailable"}));
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
