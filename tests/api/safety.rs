//! Safety: automatic suspensions, what a suspended user may not do, appeals,
//! admins (granted on the command line) and their audit trail, account deletion.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn suspended(until: Value) -> Value {
    json!({"error": "Account suspended", "code": "account_suspended", "until": until})
}

async fn report(app: &TestApp, by: &Member, who: i64) {
    let (status, body) = app
        .post(
            &format!("/users/{who}/report"),
            Some(&by.token),
            &json!({"reason": "rude"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// `voxmatch admin grant <who>` against the app's schema: the exit code.
fn grant(app: &TestApp, who: &str) -> i32 {
    std::process::Command::new(env!("CARGO_BIN_EXE_voxmatch"))
        .args(["admin", "grant", who])
        .env("DATABASE_URL", database_url())
        .env("DB_SCHEMA", &app.schema)
        .env("REDIS_URL", redis_url())
        .output()
        .expect("voxmatch runs")
        .status
        .code()
        .unwrap_or(-1)
}

async fn admin(app: &TestApp) -> Member {
    let a = member(app, "female", 40).await;
    assert_eq!(grant(app, &a.username.to_uppercase()), 0);
    a
}

async fn audit(app: &TestApp, action: &str, uid: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM admin_audit WHERE action = $1 AND user_id = $2")
        .bind(action)
        .bind(uid)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn three_distinct_reporters_suspend_and_one_reporter_three_times_does_not() {
    let app = spawn_app().await;
    let target = member(&app, "male", 30).await;
    assert_eq!(app.random(&target.token, 0).await.0, StatusCode::ACCEPTED);
    let first = member(&app, "female", 30).await;
    for _ in 0..3 {
        report(&app, &first, target.id).await;
    }
    // still in the pool: a woman who fits finds him
    let (status, _) = app.random(&target.token, 0).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.cancel(&target.token).await;
    assert_eq!(app.random(&target.token, 0).await.0, StatusCode::ACCEPTED);
    let (second, third) = (
        member(&app, "female", 30).await,
        member(&app, "female", 30).await,
    );
    report(&app, &second, target.id).await;
    report(&app, &third, target.id).await;
    // out of the pool at once: nobody finds him
    let seeker = member(&app, "female", 30).await;
    assert_eq!(app.random(&seeker.token, 0).await.0, StatusCode::ACCEPTED);
    app.cancel(&seeker.token).await;
    // and refused wherever he would reach someone
    let refused = (StatusCode::FORBIDDEN, suspended(Value::Null));
    assert_eq!(app.random(&target.token, 0).await, refused);
    assert_eq!(
        app.get("/api/match/status/", Some(&target.token)).await,
        refused
    );
    assert_eq!(app.decide(&target.token, 1, "accept").await, refused);
    assert_eq!(app.start_call(&target.token, 1).await, refused);
    for path in [
        "/api/broadcasts",
        "/api/broadcasts/1/reply",
        "/api/conversations/1/send_message",
    ] {
        assert_eq!(
            app.post(path, Some(&target.token), &json!({})).await,
            refused,
            "{path}"
        );
    }
    // his profile still answers: a suspension is not a logout
    assert_eq!(
        app.get("/api/user/profile/", Some(&target.token)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_reports_suspend_a_user_in_a_pending_match_once() {
    let app = spawn_app().await;
    let a = member(&app, "female", 24).await;
    let b = member(&app, "male", 31).await;
    app.random(&a.token, 0).await;
    let (_, body) = app.random(&b.token, 0).await;
    let match_id = body["match_id"].as_i64().unwrap();
    let reporters = [
        member(&app, "female", 30).await,
        member(&app, "female", 30).await,
        member(&app, "female", 30).await,
        member(&app, "female", 30).await,
    ];
    futures_util::future::join_all(reporters.iter().map(|r| report(&app, r, b.id))).await;
    // the pending match ended for her: her accept finds it decided
    let (status, decided) = app.decide(&a.token, match_id, "accept").await;
    assert_eq!(
        (status, decided["status"].as_str()),
        (StatusCode::OK, Some("next"))
    );
    let suspended_at: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        sqlx::query_scalar("SELECT suspended_at FROM users WHERE id = $1")
            .bind(b.id)
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert!(suspended_at[0].is_some());
}

#[tokio::test]
async fn admins_are_granted_on_the_command_line_and_everyone_else_gets_403() {
    let app = spawn_app().await;
    let user = member(&app, "male", 30).await;
    let forbidden = (
        StatusCode::FORBIDDEN,
        json!({"error": "Unauthorized access", "code": "forbidden"}),
    );
    assert_eq!(
        app.get("/api/admin/reports", Some(&user.token)).await,
        forbidden
    );
    assert_eq!(
        app.post(
            &format!("/api/admin/users/{}/unsuspend", user.id),
            Some(&user.token),
            &json!({})
        )
        .await,
        forbidden
    );
    assert_eq!(grant(&app, "nobody-has-this-name"), 1);
    let boss = admin(&app).await;
    assert_eq!(
        app.get("/api/admin/reports", Some(&boss.token)).await.0,
        StatusCode::OK
    );
    assert_eq!(audit(&app, "grant_admin", boss.id).await, 1);
    assert_eq!(
        app.get("/api/admin/reports?status=closed", Some(&boss.token))
            .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("status: must be open or resolved")
        )
    );
}

#[tokio::test]
async fn admins_review_reports_suspend_unsuspend_and_dismiss_with_an_audit_trail() {
    let app = spawn_app().await;
    let boss = admin(&app).await;
    let target = member(&app, "male", 30).await;
    let (x, y) = (
        member(&app, "female", 30).await,
        member(&app, "female", 30).await,
    );
    report(&app, &x, target.id).await;
    report(&app, &x, target.id).await;
    report(&app, &y, target.id).await;
    let (_, open) = app
        .get("/api/admin/reports?status=open", Some(&boss.token))
        .await;
    let group = &open.as_array().unwrap()[0];
    assert_eq!(
        (
            &group["user_id"],
            &group["reports"],
            &group["reporters"],
            &group["suspended"]
        ),
        (&json!(target.id), &json!(3), &json!(2), &json!(false))
    );
    // one report dismissed: it leaves the open list
    let dismissed = group["items"][0]["id"].as_i64().unwrap();
    let path = format!("/api/admin/reports/{dismissed}/dismiss");
    let (status, body) = app.post(&path, Some(&boss.token), &json!({})).await;
    assert_eq!(
        (status, &body["message"]),
        (StatusCode::OK, &json!("신고가 기각되었습니다."))
    );
    assert_eq!(
        app.post(&path, Some(&boss.token), &json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, open) = app.get("/api/admin/reports", Some(&boss.token)).await;
    assert_eq!(open[0]["reports"], 2);
    // suspended for 2 days: refused with its end; the open reports are resolved
    let suspend = format!("/api/admin/users/{}/suspend", target.id);
    for (body, details) in [
        (
            json!({"days": 0, "reason": "x"}),
            "days: must be 1 to 3650, or null",
        ),
        (
            json!({"days": 2, "reason": " "}),
            "reason: must be 1 to 500 characters",
        ),
    ] {
        assert_eq!(
            app.post(&suspend, Some(&boss.token), &body).await,
            (StatusCode::UNPROCESSABLE_ENTITY, validation(details))
        );
    }
    let (status, _) = app
        .post(
            &suspend,
            Some(&boss.token),
            &json!({"days": 2, "reason": "harassment"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.random(&target.token, 0).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::FORBIDDEN, &json!("account_suspended"))
    );
    let until = chrono::DateTime::parse_from_rfc3339(body["until"].as_str().unwrap()).unwrap();
    let left = until.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!((47..=48).contains(&left.num_hours()), "{left}");
    let (_, open) = app.get("/api/admin/reports", Some(&boss.token)).await;
    assert_eq!(open, json!([]));
    let (_, resolved) = app
        .get("/api/admin/reports?status=resolved", Some(&boss.token))
        .await;
    assert_eq!(resolved[0]["reports"], 3);
    assert_eq!(resolved[0]["suspended"], true);
    // lifted
    let unsuspend = format!("/api/admin/users/{}/unsuspend", target.id);
    assert_eq!(
        app.post(&unsuspend, Some(&boss.token), &json!({})).await.0,
        StatusCode::OK
    );
    assert_eq!(app.random(&target.token, 0).await.0, StatusCode::ACCEPTED);
    assert_eq!(
        app.post(
            "/api/admin/users/999999999/unsuspend",
            Some(&boss.token),
            &json!({})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    for action in ["suspend", "unsuspend"] {
        assert_eq!(audit(&app, action, target.id).await, 1, "{action}");
    }
    assert_eq!(audit(&app, "dismiss_report", target.id).await, 1);
}

#[tokio::test]
async fn a_suspension_ends_by_itself_at_its_time() {
    let app = spawn_app().await;
    let boss = admin(&app).await;
    let target = member(&app, "male", 30).await;
    let suspend = format!("/api/admin/users/{}/suspend", target.id);
    app.post(
        &suspend,
        Some(&boss.token),
        &json!({"days": 1, "reason": "spam"}),
    )
    .await;
    assert_eq!(app.random(&target.token, 0).await.0, StatusCode::FORBIDDEN);
    sqlx::query("UPDATE users SET suspended_until = now() - interval '1 second' WHERE id = $1")
        .bind(target.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    app.state.users_changed(&[target.id]).await;
    assert_eq!(app.random(&target.token, 0).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_suspended_user_appeals_once_at_a_time_and_an_accepted_appeal_lifts_it() {
    let app = spawn_app().await;
    let boss = admin(&app).await;
    let target = member(&app, "male", 30).await;
    let appeal = |token: String, reason: &'static str| {
        let app = &app;
        async move {
            app.post("/api/appeals", Some(&token), &json!({"reason": reason}))
                .await
        }
    };
    assert_eq!(
        appeal(target.token.clone(), "why").await,
        (
            StatusCode::CONFLICT,
            json!({"error": "정지된 계정이 아닙니다.", "code": "not_suspended"})
        )
    );
    let suspend = format!("/api/admin/users/{}/suspend", target.id);
    app.post(
        &suspend,
        Some(&boss.token),
        &json!({"days": null, "reason": "spam"}),
    )
    .await;
    assert_eq!(app.random(&target.token, 0).await.1, suspended(Value::Null));
    assert_eq!(
        appeal(target.token.clone(), " ").await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("reason: must be 1 to 1000 characters")
        )
    );
    // two at once: one is filed, the other finds it open
    let (one, two) = tokio::join!(
        appeal(target.token.clone(), "I was not rude"),
        appeal(target.token.clone(), "please")
    );
    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let conflict = if one.0 == StatusCode::CONFLICT {
        one.1
    } else {
        two.1
    };
    assert_eq!(conflict["code"], "appeal_open");
    let (_, open) = app.get("/api/admin/appeals", Some(&boss.token)).await;
    let listed = &open.as_array().unwrap()[0];
    assert_eq!(listed["user_id"], target.id);
    let path = format!("/api/admin/appeals/{}/resolve", listed["id"]);
    let (status, _) = app
        .post(
            &path,
            Some(&boss.token),
            &json!({"accept": true, "note": "fair"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.post(&path, Some(&boss.token), &json!({"accept": true}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.random(&target.token, 0).await.0, StatusCode::ACCEPTED);
    assert_eq!(audit(&app, "resolve_appeal", target.id).await, 1);
    let (_, closed) = app
        .get("/api/admin/appeals?status=resolved", Some(&boss.token))
        .await;
    assert_eq!(closed[0]["status"], "accepted");
}

#[tokio::test]
async fn deleting_an_account_frees_its_name_and_keeps_what_others_saw() {
    let app = spawn_app().await;
    let me = app.signup().await;
    let partner = member(&app, "female", 24).await;
    // a call between them, in the partner's history
    let me_member = Member {
        id: me.id,
        username: me.username.clone(),
        token: me.access.clone(),
    };
    app.random(&partner.token, 0).await;
    let (_, found) = app.random(&me_member.token, 0).await;
    let match_id = found["match_id"].as_i64().unwrap();
    tokio::join!(
        app.decide(&partner.token, match_id, "accept"),
        app.decide(&me.access, match_id, "accept")
    );
    let session = app.start_call(&me.access, match_id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.end_call(&me.access, &session).await;
    let delete = |body: Value| {
        let (app, token) = (&app, me.access.clone());
        async move { app.delete("/api/user/", &token, &body).await }
    };
    assert_eq!(
        delete(json!({})).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("password: required")
        )
    );
    assert_eq!(
        delete(json!({"password": "wrong password"})).await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "비밀번호가 올바르지 않습니다.", "code": "wrong_password"})
        )
    );
    let (status, body) = delete(json!({"password": me.password})).await;
    assert_eq!(
        (status, &body["message"]),
        (StatusCode::OK, &json!("계정이 삭제되었습니다."))
    );
    // every session ended, the login gone, the name free again
    assert_eq!(
        app.get("/api/user/profile/", Some(&me.access)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = app
        .post("/api/auth/refresh/", None, &json!({"refresh": me.refresh}))
        .await;
    assert_eq!(refreshed.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login(&me.username, &me.password).await.0,
        StatusCode::UNAUTHORIZED
    );
    let again = app.signup_as(&me.username, "male", 33).await;
    assert_ne!(again.id, me.id);
    // the partner's history keeps the call, with a deleted user
    let (_, history) = app.get("/api/history/recent/", Some(&partner.token)).await;
    assert_eq!(history[0]["username"], "deleted user");
}

/// Requests a code for `phone` and verifies it.
async fn verify_phone(app: &TestApp, phone: &str) {
    let (_, sent) = app
        .post(
            "/api/auth/request_code",
            None,
            &json!({"phone_number": phone}),
        )
        .await;
    let code = sent["code"].as_str().unwrap().to_owned();
    let body = json!({"phone_number": phone, "code": code});
    let (status, answer) = app.post("/api/auth/verify_code", None, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn a_phone_account_deletes_itself_with_a_fresh_verified_code() {
    let app = spawn_app_with(&[("SMS_RESEND_COOLDOWN_SEC", "0")]).await;
    let phone = format!("0101{:07}", rand::random::<u32>() % 10_000_000);
    verify_phone(&app, &phone).await;
    let (status, registered) = app
        .post(
            "/api/auth/register",
            None,
            &json!({"phone_number": phone, "nickname": "phoney", "password": "pass-word-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let token = registered["token"].as_str().unwrap().to_owned();
    let delete = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move { app.delete("/api/user/", &token, &body).await }
    };
    // the registration used the verification up: a new code is needed
    assert_eq!(
        delete(json!({"phone_verified": true})).await.0,
        StatusCode::FORBIDDEN
    );
    verify_phone(&app, &phone).await;
    assert_eq!(
        delete(json!({"phone_verified": true})).await.0,
        StatusCode::OK
    );
    let taken: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE phone_number = $1")
        .bind(&phone)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(taken, 0);
}
