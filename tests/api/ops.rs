//! Health, readiness, metrics, the OpenAPI document, request ids.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        app.get("/readyz", None).await,
        (
            StatusCode::OK,
            json!({"status": "ready", "redis": "ok", "postgres": "ok"})
        )
    );
}

#[tokio::test]
async fn readyz_is_503_when_postgres_is_gone() {
    let app = spawn_app().await;
    app.state.db.close().await;
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "Service unavailable", "redis": "ok", "postgres": "down"})
    );
    // and requests that need it are 503 in the contract's shape, not 500
    let (status, body) = app.login("someone", "password1").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Service unavailable"})
        )
    );
}

#[tokio::test]
async fn readyz_is_503_when_redis_is_gone() {
    let app = spawn_app().await;
    fred::prelude::ClientLike::quit(&app.state.redis.pool)
        .await
        .unwrap();
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "Service unavailable", "redis": "down", "postgres": "ok"})
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    app.get("/healthz", None).await;
    app.get("/healthz/", None).await;
    app.get("/no/such/thing", None).await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(text.contains("http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn openapi_lists_every_route_with_its_error_bodies() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/auth/signup/", "post"),
        ("/api/auth/login/", "post"),
        ("/api/auth/logout/", "post"),
        ("/api/auth/refresh/", "post"),
        ("/api/auth/register", "post"),
        ("/api/auth/request_code", "post"),
        ("/api/auth/resend_code", "post"),
        ("/api/auth/verify_code", "post"),
        ("/api/user/profile/", "get"),
        ("/api/user/profile/", "put"),
        ("/api/match/settings/", "get"),
        ("/api/match/settings/", "post"),
        ("/api/match/random/", "get"),
        ("/api/match/decision/", "post"),
        ("/api/match/cancel/", "post"),
        ("/api/gem/balance/", "get"),
        ("/api/gem/charge/", "post"),
        ("/api/call/start/", "post"),
        ("/api/call/end/", "post"),
        ("/api/call/ice-servers/", "get"),
        ("/api/history/recent/", "get"),
        ("/api/history/rate/", "post"),
        ("/api/broadcasts", "get"),
        ("/api/broadcasts", "post"),
        ("/api/broadcasts/{id}", "get"),
        ("/api/broadcasts/{id}/voice", "get"),
        ("/api/broadcasts/{id}/reply", "post"),
        ("/api/conversations", "get"),
        ("/api/conversations/{id}", "get"),
        ("/api/conversations/{id}", "delete"),
        ("/api/conversations/{id}/send_message", "post"),
        ("/api/conversations/{id}/favorite", "post"),
        ("/api/conversations/{id}/unfavorite", "post"),
        ("/api/conversations/{id}/messages/{message_id}/voice", "get"),
        ("/users/{id}/block", "post"),
        ("/users/{id}/unblock", "post"),
        ("/users/{id}/report", "post"),
        ("/ws", "get"),
        ("/api/events", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "ValidationErrorBody",
        "RateLimitedBody",
        "LoginRequest",
        "SignupForm",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(app.at("/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16);
    let res = app.client.get(app.at("/nope")).send().await.unwrap();
    assert!(res.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn logs_carry_request_ids_and_never_passwords_tokens_or_codes() {
    let app = spawn_app().await;
    std::fs::create_dir_all(&app.media).unwrap();
    let log = app.media.join("server.log");
    let server = spawn_process_logging(&app, Some(&log)).await;
    let client = reqwest::Client::new();
    let password = "Very-Secret-Passw0rd";
    let form = signup_form(&unique("log"), password, "30", "male");
    let signed: serde_json::Value = client
        .post(format!("{}/api/auth/signup/", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (access, refresh) = (
        signed["access"].as_str().unwrap(),
        signed["refresh"].as_str().unwrap(),
    );
    client
        .get(format!("{}/api/user/profile/?token={access}", server.url))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{}/api/auth/refresh/", server.url))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap();
    let sms: serde_json::Value = client
        .post(format!("{}/api/auth/request_code", server.url))
        .json(&json!({"phone_number": "01055556666"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = sms["code"].as_str().unwrap();
    client
        .post(format!("{}/api/auth/verify_code", server.url))
        .json(&json!({"phone_number": "01055556666", "code": code}))
        .send()
        .await
        .unwrap();
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("\"request_id\""), "{text}");
    assert!(text.contains("/api/auth/signup/"));
    for secret in [password, access, refresh, &format!("\"{code}\"")] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn sigterm_answers_open_long_polls_and_exits_cleanly() {
    let app = spawn_app().await;
    let mut server = spawn_process(&app).await;
    let m = member(&app, "female", 30).await;
    let url = format!("{}/api/match/random/?wait=30", server.url);
    let poll = tokio::spawn({
        let client = app.client.clone();
        let token = m.token.clone();
        async move { parts(client.get(url).bearer_auth(token).send().await.unwrap()).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let exited = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(exited, "the server did not exit cleanly on SIGTERM");
    let (status, body) = poll.await.unwrap();
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::ACCEPTED, &json!("waiting")),
        "{body}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "shutdown waited for the long poll"
    );
}
