//! Presence (`GET /api/users/{id}/presence`) and push notifications for users
//! with no WebSocket/SSE open (`/api/push/tokens`, a stand-in push provider).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

mod presence;
mod push;

const FORBIDDEN: fn() -> Value = || json!({"error": "Unauthorized access", "code": "forbidden"});

/// A conversation row between two users (as a broadcast reply would open).
async fn converse(app: &TestApp, a: i64, b: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO conversations (user_a, user_b) VALUES (LEAST($1::int8, $2::int8), GREATEST($1::int8, $2::int8)) RETURNING id",
    )
    .bind(a)
    .bind(b)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

async fn presence(app: &TestApp, token: &str, of: i64) -> (StatusCode, Value) {
    app.get(&format!("/api/users/{of}/presence"), Some(token))
        .await
}

/// Polls until `of` is shown offline (the claim is withdrawn after the socket closed).
async fn until_offline(app: &TestApp, token: &str, of: i64) -> Value {
    for _ in 0..50 {
        let (status, body) = presence(app, token, of).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["online"] == false {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{of} still online");
}

/// POSTs a voice file (multipart `voice_file`) to `path`.
async fn post_voice(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let voice = Part::bytes(include_bytes!("../fixtures/tone.m4a").to_vec()).file_name("v.m4a");
    let res = app
        .client
        .post(app.at(path))
        .bearer_auth(token)
        .multipart(Form::new().part("voice_file", voice))
        .send()
        .await
        .unwrap();
    parts(res).await
}

async fn send_message(app: &TestApp, token: &str, conversation: i64) -> (StatusCode, Value) {
    let path = format!("/api/conversations/{conversation}/send_message");
    post_voice(app, token, &path).await
}

async fn register(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/push/tokens", Some(token), &body).await
}

async fn unregister(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.delete("/api/push/tokens", token, &body).await
}

/// Waits until the provider received `n` pushes (at most 5 s), then a little
/// more to see that no other comes; returns them.
async fn pushes(provider: &StandIn, n: usize) -> Vec<(Option<String>, Value)> {
    for _ in 0..50 {
        if provider.received.lock().await.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    provider.received.lock().await.clone()
}

async fn with_push(provider: &StandIn, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("PUSH_PROVIDER_URL", provider.url.as_str()),
        ("PUSH_PROVIDER_KEY", "push-key"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}
