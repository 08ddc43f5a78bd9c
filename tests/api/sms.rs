//! SMS verification, phone registration and phone login (Talk document).

use fred::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn phone() -> String {
    format!("010{:08}", rand::random::<u32>() % 100_000_000)
}

async fn request_code(app: &TestApp, phone: &str) -> (StatusCode, Value) {
    app.post(
        "/api/auth/request_code",
        None,
        &json!({"phone_number": phone}),
    )
    .await
}

async fn verify(app: &TestApp, phone: &str, code: &str) -> (StatusCode, Value) {
    app.post(
        "/api/auth/verify_code",
        None,
        &json!({"phone_number": phone, "code": code}),
    )
    .await
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// Requests a code and verifies it; returns the phone.
async fn verified_phone(app: &TestApp) -> String {
    let phone = phone();
    let (_, body) = request_code(app, &phone).await;
    let code = body["code"].as_str().unwrap().to_owned();
    assert_eq!(verify(app, &phone, &code).await.0, StatusCode::OK);
    phone
}

async fn register(app: &TestApp, phone: &str, nickname: &str) -> (StatusCode, Value) {
    app.post(
        "/api/auth/register",
        None,
        &json!({"phone_number": phone, "password": "password123", "nickname": nickname}),
    )
    .await
}

#[tokio::test]
async fn development_mode_returns_the_code_with_the_documents_fields() {
    let app = spawn_app().await;
    let phone = phone();
    let (status, body) = request_code(&app, &phone).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "인증 코드가 발송되었습니다.");
    assert_eq!(body["development_mode"], true);
    assert_eq!(
        body["note"],
        "개발/스테이징 환경에서만 코드가 노출됩니다. 실제 앱에서는 이 코드를 입력해주세요."
    );
    let code = body["code"].as_str().unwrap();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    let expires: chrono::DateTime<chrono::Utc> =
        body["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = (expires - chrono::Utc::now()).num_seconds();
    assert!((170..=180).contains(&ttl), "{ttl}");
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn codes_are_kept_only_as_keyed_hashes() {
    let app = spawn_app().await;
    let phone = phone();
    let (_, body) = request_code(&app, &phone).await;
    let code = body["code"].as_str().unwrap();
    let redis = &app.state.redis;
    let keys = redis_keys(&app, "*").await;
    assert!(!keys.is_empty());
    for key in keys {
        let kind: String = redis
            .pool
            .next()
            .custom(fred::cmd!("TYPE"), vec![key.clone()])
            .await
            .unwrap();
        let values: Vec<String> = match kind.as_str() {
            "hash" => redis.pool.hvals(&key).await.unwrap(),
            "string" => vec![redis.pool.get(&key).await.unwrap()],
            _ => vec![],
        };
        assert!(
            values.iter().all(|v| !v.contains(code)),
            "{key} holds the code"
        );
    }
}

#[tokio::test]
async fn phone_numbers_are_normalised_and_bad_ones_refused() {
    let app = spawn_app_with(&[("SMS_RESEND_COOLDOWN_SEC", "0")]).await;
    let national = phone();
    let (a, b, c) = (&national[..3], &national[3..7], &national[7..]);
    for form in [
        format!("{a}-{b}-{c}"),
        format!("+82 {} {b} {c}", &a[1..]),
        format!("{a} {b} {c}"),
    ] {
        let (status, body) = request_code(&app, &form).await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
        let code = body["code"].as_str().unwrap().to_owned();
        let (status, body) = verify(&app, &national, &code).await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
        assert_eq!(
            body["verification_status"]["phone_number"],
            national.as_str()
        );
    }
    for bad in ["02-123-4567", "0101234", "abc", "", "+1 202 555 0100"] {
        let (status, body) = request_code(&app, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body, validation("전화번호 형식이 올바르지 않습니다"));
    }
}

#[tokio::test]
async fn resend_waits_for_the_cooldown() {
    let app = spawn_app().await;
    let phone = phone();
    assert_eq!(request_code(&app, &phone).await.0, StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/auth/resend_code",
            None,
            &json!({"phone_number": phone}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "잠시 후 다시 시도해주세요.");
    assert_eq!(body["code"], "sms_cooldown");
    let wait = body["wait_seconds"].as_u64().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn resend_after_the_cooldown_replaces_the_code() {
    let app = spawn_app_with(&[("SMS_RESEND_COOLDOWN_SEC", "1")]).await;
    let phone = phone();
    let (_, first) = request_code(&app, &phone).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, second) = app
        .post(
            "/api/auth/resend_code",
            None,
            &json!({"phone_number": phone}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["message"], "인증 코드가 재발송되었습니다.");
    let (old, new) = (
        first["code"].as_str().unwrap(),
        second["code"].as_str().unwrap(),
    );
    if old != new {
        assert_eq!(verify(&app, &phone, old).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(verify(&app, &phone, new).await.0, StatusCode::OK);
}

#[tokio::test]
async fn codes_per_phone_per_day_are_limited() {
    let app = spawn_app_with(&[("SMS_RESEND_COOLDOWN_SEC", "0"), ("SMS_DAILY_LIMIT", "3")]).await;
    let phone = phone();
    for _ in 0..3 {
        assert_eq!(request_code(&app, &phone).await.0, StatusCode::OK);
    }
    let (status, body) = request_code(&app, &phone).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "일일 인증 코드 발송 한도를 초과했습니다.");
    assert!(body["wait_seconds"].as_u64().unwrap() > 86000);
}

#[tokio::test]
async fn codes_per_address_are_limited() {
    let app = spawn_app_with(&[("SMS_IP_LIMIT", "2")]).await;
    assert_eq!(request_code(&app, &phone()).await.0, StatusCode::OK);
    assert_eq!(request_code(&app, &phone()).await.0, StatusCode::OK);
    let (status, body) = request_code(&app, &phone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        (&body["error"], &body["code"]),
        (
            &json!("잠시 후 다시 시도해주세요."),
            &json!("sms_ip_rate_limited")
        )
    );
    assert!(body["wait_seconds"].as_u64().unwrap() > 3500);
}

#[tokio::test]
async fn a_refused_code_does_not_use_up_the_address_limit() {
    let app = spawn_app_with(&[("SMS_IP_LIMIT", "2")]).await;
    let phone_a = phone();
    assert_eq!(request_code(&app, &phone_a).await.0, StatusCode::OK);
    // refused by the phone's cooldown: not counted against the address
    assert_eq!(
        request_code(&app, &phone_a).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(request_code(&app, &phone()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_code_answers_the_documents_mismatch_body() {
    let app = spawn_app().await;
    let phone = phone();
    let (_, body) = request_code(&app, &phone).await;
    let code = body["code"].as_str().unwrap();
    let (status, body) = verify(&app, &phone, &wrong(code)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "error": "인증 코드가 일치하지 않습니다.", "code": "code_mismatch",
            "verification_status": {
                "verified": false,
                "attempt_count": 1,
                "remaining_attempts": 4,
                "can_resend": false,
                "expires_at": body["verification_status"]["expires_at"],
                "phone_number": phone,
            }
        })
    );
    let (status, body) = verify(&app, &phone, "12a456").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("code: must be 6 digits")
        )
    );
}

#[tokio::test]
async fn five_wrong_attempts_lock_the_code_until_a_new_one_is_sent() {
    let app = spawn_app_with(&[("SMS_RESEND_COOLDOWN_SEC", "0")]).await;
    let phone = phone();
    let (_, body) = request_code(&app, &phone).await;
    let code = body["code"].as_str().unwrap().to_owned();
    for attempt in 1..=5 {
        let (status, body) = verify(&app, &phone, &wrong(&code)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["verification_status"]["attempt_count"], attempt);
        assert_eq!(
            body["verification_status"]["remaining_attempts"],
            5 - attempt
        );
        assert_eq!(body["verification_status"]["can_resend"], attempt == 5);
    }
    let (status, body) = verify(&app, &phone, &code).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({
            "error": "인증 시도 횟수를 초과했습니다. 새로운 인증 코드를 요청해주세요.", "code": "code_attempts_exceeded",
            "verification_status": {
                "verified": false,
                "attempt_count": 5,
                "max_attempts": 5,
                "can_resend": true,
                "phone_number": phone,
            }
        })
    );
    let (_, body) = request_code(&app, &phone).await;
    let fresh = body["code"].as_str().unwrap();
    assert_eq!(verify(&app, &phone, fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_attempts_never_exceed_five() {
    let app = spawn_app().await;
    let phone = phone();
    let (_, body) = request_code(&app, &phone).await;
    let bad = wrong(body["code"].as_str().unwrap());
    let results = futures_util::future::join_all((0..20).map(|_| verify(&app, &phone, &bad))).await;
    let mismatches = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::BAD_REQUEST)
        .count();
    let locked = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((mismatches, locked), (5, 15));
    let mut counts: Vec<i64> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::BAD_REQUEST)
        .map(|(_, b)| b["verification_status"]["attempt_count"].as_i64().unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn expired_or_missing_codes_are_400() {
    let app = spawn_app_with(&[("SMS_CODE_TTL_SEC", "1")]).await;
    let phone = phone();
    let expected = json!({
        "error": "인증 코드가 만료되었거나 존재하지 않습니다. 새로운 인증 코드를 요청해주세요.", "code": "code_expired",
        "verification_status": {"verified": false, "can_resend": true, "phone_number": phone},
    });
    assert_eq!(
        verify(&app, &phone, "123456").await,
        (StatusCode::BAD_REQUEST, expected.clone())
    );
    let (_, body) = request_code(&app, &phone).await;
    let code = body["code"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        verify(&app, &phone, &code).await,
        (StatusCode::BAD_REQUEST, expected)
    );
}

#[tokio::test]
async fn verify_tells_new_and_existing_users_apart() {
    let app = spawn_app_with(&[("SMS_RESEND_COOLDOWN_SEC", "0")]).await;
    let phone = phone();
    let (_, body) = request_code(&app, &phone).await;
    let (status, body) = verify(&app, &phone, body["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "인증에 성공했습니다.");
    assert_eq!(body["user_exists"], false);
    assert_eq!(body["can_proceed_to_register"], true);
    assert_eq!(body["user"], Value::Null);
    assert_eq!(body["verification_status"]["verified"], true);
    assert!(body["verification_status"]["verified_at"].is_string());

    let (status, reg) = register(&app, &phone, "사용자1").await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let (_, body) = request_code(&app, &phone).await;
    let (status, body) = verify(&app, &phone, body["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user_exists"], true);
    assert_eq!(body["can_proceed_to_register"], false);
    assert_eq!(
        body["user"],
        json!({"id": reg["user"]["id"], "nickname": "사용자1"})
    );
}

#[tokio::test]
async fn register_needs_a_recent_verification() {
    let app = spawn_app().await;
    let (status, body) = register(&app, &phone(), "닉네임").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({
            "error": "인증이 완료되지 않은 전화번호입니다. 인증 코드를 확인해주세요.", "code": "phone_not_verified",
            "verification_required": true,
            "verification_status": {"verified": false, "can_resend": true},
        })
    );
}

#[tokio::test]
async fn register_and_phone_login_answer_the_documents_bodies() {
    let app = spawn_app().await;
    let phone = verified_phone(&app).await;
    let (status, body) = register(&app, &phone, "사용자1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "회원가입에 성공했습니다.");
    assert_eq!(body["user"]["nickname"], "사용자1");
    assert_eq!(body["user"]["phone_number"], phone.as_str());
    assert!(body["user"]["created_at"].is_string());
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/user/profile/", Some(token)).await.0,
        StatusCode::OK
    );

    let dashed = format!("{}-{}-{}", &phone[..3], &phone[3..7], &phone[7..]);
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            &json!({"phone_number": dashed, "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "로그인에 성공했습니다.");
    assert_eq!(body["user"]["nickname"], "사용자1");
    assert_eq!(body["user"]["phone_number"], phone.as_str());
    assert!(body["user"]["last_login_at"].is_string() && body["user"]["created_at"].is_string());
    assert!(body["token"].is_string());

    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            &json!({"phone_number": phone, "password": "wrong-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "전화번호 또는 비밀번호가 올바르지 않습니다.", "code": "bad_credentials"})
    );
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            &json!({"phone_number": "01099998888", "password": "password123"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("전화번호 또는 비밀번호가 올바르지 않습니다.")
        )
    );
}

#[tokio::test]
async fn register_refuses_a_taken_phone_whatever_its_verification() {
    let app = spawn_app().await;
    let phone = verified_phone(&app).await;
    assert_eq!(register(&app, &phone, "first").await.0, StatusCode::CREATED);
    let expected = (
        StatusCode::CONFLICT,
        json!({"error": "이미 등록된 전화번호입니다.", "code": "phone_taken", "user_exists": true}),
    );
    assert_eq!(register(&app, &phone, "second").await, expected);
}

#[tokio::test]
async fn register_validates_nickname_and_password() {
    let app = spawn_app().await;
    let phone = verified_phone(&app).await;
    let send = |nickname: String, password: &'static str| {
        let body = json!({"phone_number": phone, "password": password, "nickname": nickname});
        let app = &app;
        async move { app.post("/api/auth/register", None, &body).await }
    };
    let (status, body) = send(String::new(), "password123").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("nickname: must be 1 to 20 characters")
        )
    );
    let (status, body) = send("닉".repeat(21), "password123").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("nickname: must be 1 to 20 characters")
        )
    );
    let (status, body) = send("닉".repeat(20), "short").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("password: must be 8 to 128 characters")
        )
    );
    let (status, body) = app
        .post("/api/auth/register", None, &json!({"phone_number": phone, "password": "password123", "nickname": "n", "gender": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation("gender: unknown variant `x`, expected `male` or `female`")
    );
    assert_eq!(
        send("닉".repeat(20), "password123").await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn production_sends_the_code_through_the_provider_and_never_returns_it() {
    let provider = stand_in(200, "{}").await;
    let app = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("SMS_PROVIDER_URL", &provider.url),
        ("SMS_PROVIDER_KEY", "provider-key"),
        ("PAYMENT_VERIFIER_URL", &provider.url),
    ])
    .await;
    let phone = phone();
    let (status, body) = request_code(&app, &phone).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["development_mode", "expires_at", "message"]);
    assert_eq!(body["development_mode"], false);
    let (auth, sent) = provider.received.lock().await.pop().unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer provider-key"));
    assert_eq!(sent["to"], phone.as_str());
    let text = sent["text"].as_str().unwrap();
    let code: String = text.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{text}");
    assert_eq!(verify(&app, &phone, &code).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_provider_is_503_and_charges_nothing() {
    let provider = stand_in(500, "{}").await;
    let app = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("SMS_PROVIDER_URL", &provider.url),
        ("PAYMENT_VERIFIER_URL", &provider.url),
    ])
    .await;
    let phone = phone();
    let (status, body) = request_code(&app, &phone).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Service unavailable", "code": "service_unavailable"})
        )
    );
    provider.answer(200, "{}", 0);
    // no cooldown was started by the failed send
    assert_eq!(request_code(&app, &phone).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_provider_is_503() {
    let app = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("SMS_PROVIDER_URL", "http://127.0.0.1:9/send"),
        ("PAYMENT_VERIFIER_URL", "http://127.0.0.1:9/verify"),
    ])
    .await;
    let (status, body) = request_code(&app, &phone()).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Service unavailable", "code": "service_unavailable"})
        )
    );
}
