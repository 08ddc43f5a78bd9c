//! Limits under concurrency, quotas, client addresses, and odd bytes anywhere
//! (SPEC: Holding up in production).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn parallel_wrong_passwords_never_get_past_the_limit() {
    let app = spawn_app_with(&[("LOGIN_FAIL_LIMIT", "10")]).await;
    let user = app.signup().await;
    let attempts = (0..20).map(|_| app.login(&user.username, "wrong password"));
    let answers = futures_util::future::join_all(attempts).await;
    let count = |status| answers.iter().filter(|(s, _)| *s == status).count();
    assert_eq!(count(StatusCode::UNAUTHORIZED), 10, "{answers:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 10);
}

#[tokio::test]
async fn limits_slide_instead_of_resetting_twice_as_many_at_a_window_edge() {
    let app = spawn_app_with(&[("LOGIN_FAIL_LIMIT", "3"), ("LOGIN_FAIL_WINDOW_SEC", "2")]).await;
    let user = app.signup().await;
    let fail = || app.login(&user.username, "wrong password");
    assert_eq!(fail().await.0, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(fail().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(fail().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(fail().await.0, StatusCode::TOO_MANY_REQUESTS);
    // the first failure left the window; the other two are still in it: one more, not three
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(fail().await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = fail().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        (1..=2).contains(&body["wait_seconds"].as_u64().unwrap()),
        "{body}"
    );
}

/// Every rate-limit key of the app's Redis prefix, with its TTL in ms.
async fn limit_keys(app: &TestApp) -> Vec<(String, i64)> {
    use fred::prelude::*;
    let redis = &app.state.redis;
    let keys = redis_keys(app, "rl:*").await;
    let mut out = Vec::new();
    for key in keys {
        let ttl: i64 = redis.pool.pttl(&key).await.unwrap();
        out.push((key, ttl));
    }
    out
}

#[tokio::test]
async fn every_limit_key_expires_even_after_units_are_given_back() {
    let app = spawn_app().await;
    let user = app.signup().await;
    // a refused code gives its per-address unit back; a success gives the login unit back
    let phone = format!("010{:08}", rand::random::<u32>() % 100_000_000);
    for _ in 0..3 {
        app.post(
            "/api/auth/request_code",
            None,
            &json!({"phone_number": phone}),
        )
        .await;
    }
    app.login(&user.username, "wrong password").await;
    app.login(&user.username, &user.password).await;
    let keys = limit_keys(&app).await;
    assert!(!keys.is_empty());
    for (key, ttl) in keys {
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
    }
}

async fn signup_from(app: &TestApp, forwarded_for: &str) -> StatusCode {
    let form = signup_form(&unique("xf"), "password1", "30", "male");
    app.client
        .post(app.at("/api/auth/signup/"))
        .header("x-forwarded-for", forwarded_for)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_client_address_is_counted_from_the_right_of_x_forwarded_for() {
    // one trusted proxy: the address it saw is the right-most; what is left of it is the client's say
    let app = spawn_app_with(&[("TRUST_FORWARDED_FOR", "1"), ("SIGNUP_IP_LIMIT", "1")]).await;
    assert_eq!(
        signup_from(&app, "1.1.1.1, 9.9.9.9").await,
        StatusCode::CREATED
    );
    assert_eq!(
        signup_from(&app, "2.2.2.2, 9.9.9.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // two trusted proxies: the second from the right
    let app = spawn_app_with(&[("TRUST_FORWARDED_FOR", "2"), ("SIGNUP_IP_LIMIT", "1")]).await;
    assert_eq!(
        signup_from(&app, "6.6.6.6, 1.1.1.1, 9.9.9.9").await,
        StatusCode::CREATED
    );
    assert_eq!(
        signup_from(&app, "7.7.7.7, 2.2.2.2, 9.9.9.9").await,
        StatusCode::CREATED
    );
    assert_eq!(
        signup_from(&app, "8.8.8.8, 1.1.1.1, 9.9.9.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A 429's body and its `Retry-After`, which must agree.
async fn limited(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (_, body) = parts(res).await;
    assert_eq!(body["wait_seconds"].as_u64(), Some(retry_after), "{body}");
    assert_eq!(body["error"], "잠시 후 다시 시도해주세요.");
    body
}

fn voice() -> Form {
    Form::new().part(
        "voice_file",
        Part::bytes(include_bytes!("../fixtures/tone.m4a").to_vec()).file_name("v.m4a"),
    )
}

#[tokio::test]
async fn messages_replies_and_reports_have_per_user_quotas() {
    let app = spawn_app_with(&[
        ("MESSAGE_HOURLY_LIMIT", "2"),
        ("REPLY_HOURLY_LIMIT", "1"),
        ("REPORT_DAILY_LIMIT", "2"),
    ])
    .await;
    let (a, b) = (
        member(&app, "female", 25).await,
        member(&app, "male", 25).await,
    );
    let post = |path: String, token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.at(&path))
                .bearer_auth(token)
                .multipart(voice())
                .send()
                .await
                .unwrap()
        }
    };
    // b broadcasts twice; a's first reply opens the conversation, the second is over quota
    let mut broadcasts = Vec::new();
    for _ in 0..2 {
        let res = post("/api/broadcasts".into(), b.token.clone()).await;
        let (_, body) = parts(res).await;
        broadcasts.push(body["broadcast"]["id"].as_i64().unwrap());
    }
    let res = post(
        format!("/api/broadcasts/{}/reply", broadcasts[0]),
        a.token.clone(),
    )
    .await;
    let (status, body) = parts(res).await;
    assert_eq!(status, StatusCode::CREATED);
    let conversation = body["conversation_id"].as_i64().unwrap();
    limited(
        post(
            format!("/api/broadcasts/{}/reply", broadcasts[1]),
            a.token.clone(),
        )
        .await,
    )
    .await;
    // two messages an hour
    let send = format!("/api/conversations/{conversation}/send_message");
    for _ in 0..2 {
        let res = post(send.clone(), a.token.clone()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let body = limited(post(send.clone(), a.token.clone()).await).await;
    assert!(body["wait_seconds"].as_u64().unwrap() > 3500);
    // the partner's quota is their own
    assert_eq!(
        post(send, b.token.clone()).await.status(),
        StatusCode::CREATED
    );
    // two reports a day
    let report = |reason: &'static str| {
        app.client
            .post(app.at(&format!("/api/users/{}/report", b.id)))
            .bearer_auth(&a.token)
            .json(&json!({"reason": reason}))
            .send()
    };
    assert_eq!(report("one").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(report("two").await.unwrap().status(), StatusCode::CREATED);
    limited(report("three").await.unwrap()).await;
}

#[tokio::test]
async fn registers_are_limited_per_address_before_the_phone_is_looked_up() {
    let app = spawn_app_with(&[("REGISTER_IP_LIMIT", "2")]).await;
    let register = |phone: String| {
        app.client
            .post(app.at("/api/auth/register"))
            .json(&json!({"phone_number": phone, "password": "password1", "nickname": "n"}))
            .send()
    };
    let phone = || format!("010{:08}", rand::random::<u32>() % 100_000_000);
    for _ in 0..2 {
        // not verified: 403
        assert_eq!(
            register(phone()).await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
    // even a phone that has an account is not told apart any more
    limited(register(phone()).await.unwrap()).await;
}

#[tokio::test]
async fn signals_have_a_per_minute_quota() {
    let app = spawn_app_with(&[("SIGNAL_MINUTE_LIMIT", "2")]).await;
    let (a, b, match_id) = matched(&app).await;
    let (_, body) = app.start_call(&a.token, match_id).await;
    let session = body["call_session_id"].as_str().unwrap().to_owned();
    let mut sa = websocket(&app.url, &a.token).await;
    let mut sb = websocket(&app.url, &b.token).await;
    use futures_util::SinkExt;
    let signal = json!({"type": "signal", "call_session_id": session, "payload": {"sdp": "x"}});
    for _ in 0..3 {
        sa.send(tokio_tungstenite::tungstenite::Message::text(
            signal.to_string(),
        ))
        .await
        .unwrap();
    }
    next_event(&mut sb, "signal").await;
    next_event(&mut sb, "signal").await;
    let error = next_event(&mut sa, "error").await;
    assert_eq!(error["error"], "잠시 후 다시 시도해주세요.");
    assert!(error["wait_seconds"].as_u64().unwrap() >= 1, "{error}");
    assert_eq!(error["call_session_id"], session.as_str());
}

#[tokio::test]
async fn nul_characters_and_invalid_text_are_422_wherever_text_is_accepted() {
    let app = spawn_app().await;
    let (a, b) = (
        member(&app, "male", 30).await,
        member(&app, "female", 30).await,
    );
    let nul = |field: &str| validation(&format!("{field}: must not contain NUL characters"));
    // JSON: login (unauthenticated), register, report, rating, payment
    let report = format!("/api/users/{}/report", b.id);
    let cases: Vec<(&str, Option<&str>, Value, &str)> = vec![
        (
            "/api/auth/login/",
            None,
            json!({"username": "a\u{0}b", "password": "password1"}),
            "username",
        ),
        (
            "/api/auth/register",
            None,
            json!({"phone_number": "01012345678", "password": "password1", "nickname": "n\u{0}"}),
            "nickname",
        ),
        (
            &report,
            Some(&a.token),
            json!({"reason": "bad\u{0}"}),
            "reason",
        ),
        (
            "/api/history/rate/",
            Some(&a.token),
            json!({"call_id": 1, "rating": 5, "comment": "\u{0}"}),
            "comment",
        ),
        (
            "/api/gem/charge/",
            Some(&a.token),
            json!({"payment_token": "test_1_\u{0}"}),
            "payment_token",
        ),
        (
            "/api/match/settings/",
            Some(&a.token),
            json!({"region": "x", "extra": {"deep": ["ok", "\u{0}"]}}),
            "extra.deep[1]",
        ),
    ];
    for (path, token, body, field) in cases {
        assert_eq!(
            app.post(path, token, &body).await,
            (StatusCode::UNPROCESSABLE_ENTITY, nul(field)),
            "{path}"
        );
    }
    // forms and query strings: NUL and bytes that are not UTF-8
    let form = |body: &'static str| {
        app.post_raw(
            "/api/auth/login/",
            "application/x-www-form-urlencoded",
            body,
        )
    };
    assert_eq!(
        form("username=a%00&password=password1").await,
        (StatusCode::UNPROCESSABLE_ENTITY, nul("username"))
    );
    assert_eq!(
        form("username=%FF%FE&password=password1").await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("username: must be UTF-8 text")
        )
    );
    assert_eq!(
        app.get("/api/history/recent/?limit=%00", Some(&a.token))
            .await,
        (StatusCode::UNPROCESSABLE_ENTITY, nul("limit"))
    );
    // multipart text fields
    let signup = Form::new()
        .text("username", "ab\u{0}cd")
        .text("password", "password1")
        .text("age", "30")
        .text("gender", "male");
    assert_eq!(
        app.signup_raw(signup).await,
        (StatusCode::UNPROCESSABLE_ENTITY, nul("username"))
    );
    let signup = Form::new()
        .part("username", Part::bytes(vec![0xFF, 0xFE, 0x41]))
        .text("password", "password1")
        .text("age", "30")
        .text("gender", "male");
    assert_eq!(
        app.signup_raw(signup).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("username: must be UTF-8 text")
        )
    );
}

#[tokio::test]
async fn an_authorization_header_that_is_not_text_is_401() {
    let app = spawn_app().await;
    let header = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
    for path in ["/api/user/profile/", "/api/match/random/?wait=0", "/ws"] {
        let res = app
            .client
            .get(app.at(path))
            .header("authorization", header.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            parts(res).await,
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "Invalid token", "code": "invalid_token"})
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_access_token_works_only_with_its_own_sessions_user() {
    let app = spawn_app().await;
    let (mine, theirs) = (app.signup().await, app.signup().await);
    // a token that names someone else's live session
    let claims = |token: &str| -> Value {
        let payload = token.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let mut forged = claims(&mine.access);
    forged["sid"] = claims(&theirs.access)["sid"].clone();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &forged,
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-test-secret-test-secret!"),
    )
    .unwrap();
    assert_eq!(
        app.get("/api/user/profile/", Some(&token)).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid token", "code": "invalid_token"})
        )
    );
    // the same claims with their own session work: the forgery is the only difference
    let honest = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&mine.access),
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-test-secret-test-secret!"),
    )
    .unwrap();
    assert_eq!(
        app.get("/api/user/profile/", Some(&honest)).await.0,
        StatusCode::OK
    );
}

/// A field no endpoint reads is checked too: bytes that are not UTF-8, or a lone
/// surrogate, anywhere in a JSON body are 422. (Bodies are decoded in one pass only
/// when they are UTF-8 without `\u` escapes; these take the checking path.)
#[tokio::test]
async fn bad_text_in_a_field_nobody_reads_is_422() {
    let app = spawn_app().await;
    let bodies: [&[u8]; 2] = [
        b"{\"username\":\"nobody\",\"password\":\"password1\",\"extra\":\"\xff\"}",
        br#"{"username":"nobody","password":"password1","extra":"\ud800"}"#,
    ];
    for body in bodies {
        let (status, got) = app
            .post_raw("/api/auth/login/", "application/json", body.to_vec())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{got}");
        assert!(
            got["details"]
                .as_str()
                .unwrap_or_default()
                .starts_with("body: malformed JSON"),
            "{got}"
        );
    }
}
