//! Accounts and sessions: signup, login, refresh, logout, and the error contract.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const BAD_LOGIN: &str = "아이디 또는 비밀번호가 올바르지 않습니다.";

#[tokio::test]
async fn signup_returns_tokens_that_work() {
    let app = spawn_app().await;
    let name = unique("sig");
    let (status, body) = app
        .signup_raw(signup_form(&name, "password1", "18", "female"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["message"], "회원가입이 완료되었습니다.");
    let access = body["access"].as_str().unwrap();
    assert!(body["refresh"].is_string());
    let (status, profile) = app.get("/api/user/profile/", Some(access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["username"], name.as_str());
    assert_eq!(profile["age"], 18);
    assert_eq!(profile["gender"], "female");
    assert_eq!(profile["profile_image"], serde_json::Value::Null);
}

#[tokio::test]
async fn signup_validates_each_field_at_and_past_its_edge() {
    let app = spawn_app().await;
    let ok_name = || unique("v");
    let (long_129, long_128) = ("p".repeat(129), "p".repeat(128));
    let cases: Vec<(String, &str, &str, &str, Option<&str>)> = vec![
        (
            "ab".into(),
            "password1",
            "20",
            "male",
            Some("username: must be 3 to 30 characters"),
        ),
        (
            "a".repeat(31),
            "password1",
            "20",
            "male",
            Some("username: must be 3 to 30 characters"),
        ),
        (
            "bad-name".into(),
            "password1",
            "20",
            "male",
            Some("username: only letters, digits, '_' and '.' are allowed"),
        ),
        (
            ok_name(),
            "1234567",
            "20",
            "male",
            Some("password: must be 8 to 128 characters"),
        ),
        (
            ok_name(),
            &long_129,
            "20",
            "male",
            Some("password: must be 8 to 128 characters"),
        ),
        (
            ok_name(),
            "password1",
            "17",
            "male",
            Some("age: must be an integer from 18 to 100"),
        ),
        (
            ok_name(),
            "password1",
            "101",
            "male",
            Some("age: must be an integer from 18 to 100"),
        ),
        (
            ok_name(),
            "password1",
            "twenty",
            "male",
            Some("age: must be an integer from 18 to 100"),
        ),
        (
            ok_name(),
            "password1",
            "20",
            "other",
            Some("gender: must be male or female"),
        ),
        // at the edges: accepted
        (
            format!("a{}", &unique("")[..2]),
            "12345678",
            "18",
            "male",
            None,
        ),
        (
            format!("{}{}", unique("e"), "x".repeat(30 - 13)),
            &long_128,
            "100",
            "female",
            None,
        ),
    ];
    for (username, password, age, gender, expected) in cases {
        let (status, body) = app
            .signup_raw(signup_form(&username, password, age, gender))
            .await;
        match expected {
            Some(details) => {
                assert_eq!(
                    status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{username}: {body}"
                );
                assert_eq!(body, validation(details));
            }
            None => assert_eq!(
                status,
                StatusCode::CREATED,
                "{username} ({}): {body}",
                username.len()
            ),
        }
    }
}

#[tokio::test]
async fn signup_reports_every_wrong_field_and_missing_parts() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new().text("username", "ok_name");
    let (status, body) = app.signup_raw(form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation(
            "password: must be 8 to 128 characters; age: must be an integer from 18 to 100; \
             gender: must be male or female"
        )
    );
    let (status, body) = app
        .post(
            "/api/auth/signup/",
            None,
            &json!({"username": "json_is_not_multipart"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, validation("body: expected multipart/form-data"));
    let (status, body) = app
        .post_raw(
            "/api/auth/signup/",
            "multipart/form-data; boundary=xyz",
            "--xyz\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nab",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .starts_with("body: broken multipart"),
        "{body}"
    );
}

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    let app = spawn_app().await;
    let name = unique("Dup");
    app.signup_as(&name, "male", 30).await;
    let (status, body) = app
        .signup_raw(signup_form(&name.to_lowercase(), "password1", "30", "male"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"error": "이미 사용 중인 아이디입니다.", "code": "username_taken"})
    );
}

#[tokio::test]
async fn concurrent_signups_of_one_username_make_one_account() {
    let app = spawn_app().await;
    let name = unique("race");
    let attempts = (0..8).map(|_| app.signup_raw(signup_form(&name, "password1", "30", "male")));
    let results = futures_util::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 7), "{results:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE username = $1")
        .bind(&name)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn login_answers_one_message_for_wrong_username_and_wrong_password() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let (status, body) = app.login(&user.username, &user.password).await;
    assert_eq!(status, StatusCode::OK);
    for key in ["access", "refresh", "token"] {
        assert!(body[key].is_string(), "{key} in {body}");
    }
    assert_eq!(body["user"]["username"], user.username.as_str());
    assert!(body["user"]["last_login_at"].is_string());

    let wrong_password = app.login(&user.username, "wrong password").await;
    let wrong_username = app.login("nobody_here", &user.password).await;
    let expected = (
        StatusCode::UNAUTHORIZED,
        json!({"error": BAD_LOGIN, "code": "bad_credentials"}),
    );
    assert_eq!(wrong_password, expected);
    assert_eq!(wrong_username, expected);
    // the username is matched without regard to case
    let (status, _) = app
        .login(&user.username.to_uppercase(), &user.password)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_are_limited_per_account() {
    let app = spawn_app_with(&[("LOGIN_FAIL_LIMIT", "3"), ("LOGIN_FAIL_WINDOW_SEC", "120")]).await;
    let user = app.signup().await;
    for _ in 0..3 {
        let (status, _) = app.login(&user.username, "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // at the limit even the right password waits
    let (status, body) = app.login(&user.username, &user.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "잠시 후 다시 시도해주세요.");
    let wait = body["wait_seconds"].as_u64().unwrap();
    assert!((1..=120).contains(&wait), "{body}");
    // another account from the same address is not locked
    let other = app.signup().await;
    assert_eq!(
        app.login(&other.username, &other.password).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_and_successes_do_not_count() {
    let app = spawn_app_with(&[("LOGIN_IP_FAIL_LIMIT", "2")]).await;
    let user = app.signup().await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&user.username, &user.password).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        app.login("ghost_one", "password1").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("ghost_two", "password1").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = app.login(&user.username, &user.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn signups_are_limited_per_address() {
    let app = spawn_app_with(&[("SIGNUP_IP_LIMIT", "2")]).await;
    app.signup().await;
    app.signup().await;
    let (status, body) = app
        .signup_raw(signup_form(&unique("x"), "password1", "30", "male"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "잠시 후 다시 시도해주세요.");
    assert!(body["wait_seconds"].as_u64().unwrap() > 3000);
}

#[tokio::test]
async fn access_tokens_expire() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL_SEC", "1")]).await;
    let user = app.signup().await;
    assert_eq!(
        app.get("/api/user/profile/", Some(&user.access)).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = app.get("/api/user/profile/", Some(&user.access)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid token", "code": "invalid_token"})
        )
    );
}

#[tokio::test]
async fn bad_tokens_are_401_in_the_contract_shape() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let invalid = (
        StatusCode::UNAUTHORIZED,
        json!({"error": "Invalid token", "code": "invalid_token"}),
    );
    assert_eq!(app.get("/api/user/profile/", None).await, invalid);
    assert_eq!(
        app.get("/api/user/profile/", Some("not.a.jwt")).await,
        invalid
    );
    // a refresh token is not an access token
    assert_eq!(
        app.get("/api/user/profile/", Some(&user.refresh)).await,
        invalid
    );
    // a token signed with another secret
    let other = spawn_app_with(&[("JWT_SECRET", "another-secret-another-secret-another")]).await;
    let stranger = other.signup().await;
    assert_eq!(
        app.get("/api/user/profile/", Some(&stranger.access)).await,
        invalid
    );
    // ?token= works where headers cannot be set
    let (status, _) = app
        .get(&format!("/api/user/profile/?token={}", user.access), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let (status, first) = app
        .post(
            "/api/auth/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["token"], first["access"]);
    let new_access = first["access"].as_str().unwrap();
    let new_refresh = first["refresh"].as_str().unwrap();
    assert_ne!(new_refresh, user.refresh);
    assert_eq!(
        app.get("/api/user/profile/", Some(new_access)).await.0,
        StatusCode::OK
    );

    // the rotated token comes back: the whole session ends
    let (status, body) = app
        .post(
            "/api/auth/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid token", "code": "invalid_token"})
        )
    );
    assert_eq!(
        app.get("/api/user/profile/", Some(new_access)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/user/profile/", Some(&user.access)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .post("/api/auth/refresh/", None, &json!({"refresh": new_refresh}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // an access token is not a refresh token
    let other = app.signup().await;
    let (status, _) = app
        .post(
            "/api/auth/refresh/",
            None,
            &json!({"refresh": other.access}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_rotate_once() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let body = json!({"refresh": user.refresh});
    let results =
        futures_util::future::join_all((0..6).map(|_| app.post("/api/auth/refresh/", None, &body)))
            .await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(ok <= 1, "{results:?}");
}

#[tokio::test]
async fn logout_revokes_the_session_at_once() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let (_, second_login) = app.login(&user.username, &user.password).await;
    let (status, body) = app.logout(&user).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"message": "로그아웃되었습니다."}))
    );
    assert_eq!(
        app.get("/api/user/profile/", Some(&user.access)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .post(
            "/api/auth/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // another device's session lives on
    let other_access = second_login["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/user/profile/", Some(other_access)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_needs_a_token_and_the_callers_own_refresh() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let other = app.signup().await;
    let (status, _) = app
        .post("/api/auth/logout/", None, &json!({"refresh": user.refresh}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post(
            "/api/auth/logout/",
            Some(&user.access),
            &json!({"refresh": other.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/user/profile/", Some(&other.access)).await.0,
        StatusCode::OK
    );
    let (status, body) = app
        .post("/api/auth/logout/", Some(&user.access), &json!({}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("missing field `refresh`")
        )
    );
}

#[tokio::test]
async fn malformed_bodies_are_422_never_500() {
    let app = spawn_app().await;
    for text in ["{not json", "<not json/>"] {
        let (status, body) = app
            .post_raw("/api/auth/login/", "application/json", text)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"], "Validation error");
        assert!(
            body["details"]
                .as_str()
                .unwrap()
                .starts_with("body: malformed JSON"),
            "{body}"
        );
    }
    // JSON, but not an object: an array would fill the fields by position
    assert_eq!(
        app.post_raw("/api/auth/login/", "application/json", r#" ["a", "b"]"#)
            .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("body: must be a JSON object")
        )
    );
    let (status, body) = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"username": 5, "password": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation("username: invalid type: integer `5`, expected a string")
    );
    let (status, body) = app
        .post("/api/auth/login/", None, &json!({"password": "x"}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("username: required (or phone_number)")
        )
    );
    let (status, body) = app
        .post_raw("/api/auth/login/", "application/json", "")
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("missing field `password`")
        )
    );
}

#[tokio::test]
async fn form_encoded_login_works_like_json() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let form = format!("username={}&password=correct+horse", user.username);
    let (status, body) = app
        .post_raw(
            "/api/auth/login/",
            "application/x-www-form-urlencoded",
            form,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"username\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(70 * 1024)
    );
    let (status, body) = app
        .post_raw("/api/auth/login/", "application/json", huge)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "Payload too large", "code": "payload_too_large"})
        )
    );
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/api/nothing/here", None).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "route_not_found"})
        )
    );
    assert_eq!(
        app.get("/api/auth/login/", None).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "Method not allowed", "code": "method_not_allowed"})
        )
    );
    // an unknown path is 404 whatever the method (no route is method-first)
    for path in ["/api/nothing/here", "/nope", "/demo/nothing"] {
        assert_eq!(
            app.post(path, None, &json!({})).await,
            (
                StatusCode::NOT_FOUND,
                json!({"error": "Resource not found", "code": "route_not_found"})
            ),
            "POST {path}"
        );
    }
    assert_eq!(
        app.post("/demo/", None, &json!({})).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn every_path_answers_with_and_without_a_trailing_slash() {
    let app = spawn_app().await;
    let user = app.signup().await;
    for path in ["/api/user/profile", "/api/user/profile/"] {
        assert_eq!(
            app.get(path, Some(&user.access)).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in ["/api/auth/login", "/api/auth/login/"] {
        let (status, _) = app
            .post(
                path,
                None,
                &json!({"username": user.username, "password": user.password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    for path in [
        "/healthz",
        "/healthz/",
        "/api/openapi.json",
        "/api/openapi.json/",
    ] {
        assert_eq!(app.get(path, None).await.0, StatusCode::OK, "{path}");
    }
}
