//! Gems: balance, charging filtered matches exactly once, never below zero.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn balance(app: &TestApp, token: &str) -> i64 {
    let (status, body) = app.get("/api/gem/balance/", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    body["gems"].as_i64().unwrap()
}

async fn wants(app: &TestApp, m: &Member, preferred: &str) {
    let (status, body) = app
        .settings(&m.token, json!({"preferred_gender": preferred}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// (sum of ledger deltas, rows of filter_match) of a user.
async fn ledger(app: &TestApp, uid: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT COALESCE(sum(delta), 0)::int8, count(*) FILTER (WHERE reason = 'filter_match')
         FROM gem_ledger WHERE user_id = $1",
    )
    .bind(uid)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn balance_shows_the_users_gems() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    assert_eq!(
        app.get("/api/gem/balance/", Some(&m.token)).await,
        (StatusCode::OK, json!({"gems": 0}))
    );
    grant_gems(&app, m.id, 7).await;
    assert_eq!(balance(&app, &m.token).await, 7);
    assert_eq!(
        app.get("/api/gem/balance/", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_filtered_match_without_gems_is_402_and_not_queued() {
    let app = spawn_app().await;
    let f = member(&app, "female", 30).await;
    wants(&app, &f, "male").await;
    assert_eq!(
        app.random(&f.token, 0).await,
        (
            StatusCode::PAYMENT_REQUIRED,
            json!({"error": "보석이 부족합니다.", "code": "not_enough_gems", "required": 1, "balance": 0})
        )
    );
    let m = member(&app, "male", 30).await;
    assert_eq!(
        app.random(&m.token, 0).await.0,
        StatusCode::ACCEPTED,
        "paired with an unqueued user"
    );
}

#[tokio::test]
async fn a_filtered_match_is_charged_once_when_made_and_never_before() {
    let app = spawn_app().await;
    let f = member(&app, "female", 30).await;
    wants(&app, &f, "male").await;
    grant_gems(&app, f.id, 2).await;
    app.random(&f.token, 0).await;
    app.cancel(&f.token).await;
    app.random(&f.token, 0).await;
    app.random(&f.token, 0).await;
    assert_eq!(
        balance(&app, &f.token).await,
        2,
        "charged while only waiting"
    );
    let m = member(&app, "male", 30).await;
    let (status, body) = app.random(&m.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    let id = body["match_id"].as_i64().unwrap();
    // polling again returns the same match, without another charge
    assert_eq!(app.random(&f.token, 0).await.1["match_id"], id);
    assert_eq!(balance(&app, &f.token).await, 1);
    assert_eq!(balance(&app, &m.token).await, 0);
    let row: (i64, i64, String, String) = sqlx::query_as(
        "SELECT delta, balance_after, reason, ref FROM gem_ledger WHERE user_id = $1 AND reason = 'filter_match'",
    )
    .bind(f.id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(row, (-1, 1, "filter_match".to_owned(), id.to_string()));
    assert_eq!(ledger(&app, m.id).await, (0, 0));
}

#[tokio::test]
async fn when_both_filter_both_pay() {
    let app = spawn_app().await;
    let f = member(&app, "female", 30).await;
    let m = member(&app, "male", 30).await;
    for (user, preferred) in [(&f, "male"), (&m, "female")] {
        wants(&app, user, preferred).await;
        grant_gems(&app, user.id, 1).await;
    }
    app.random(&f.token, 0).await;
    assert_eq!(app.random(&m.token, 0).await.0, StatusCode::OK);
    assert_eq!(
        (balance(&app, &f.token).await, balance(&app, &m.token).await),
        (0, 0)
    );
    // at zero, the next filtered request is refused
    assert_eq!(
        app.random(&f.token, 0).await.0,
        StatusCode::OK,
        "the pending match is still shown"
    );
}

#[tokio::test]
async fn a_pair_that_cannot_be_paid_is_undone_and_the_partner_keeps_waiting() {
    let app = spawn_app().await;
    let f = member(&app, "female", 30).await;
    wants(&app, &f, "male").await;
    grant_gems(&app, f.id, 1).await;
    app.random(&f.token, 0).await;
    // her last gem goes elsewhere while she waits (another device's match, say)
    voxmatch::gems::ledger::charge_for_match(&app.state.db, 424_242, &[(f.id, 1)])
        .await
        .unwrap();
    app.state.users_changed(&[f.id]).await;
    let m = member(&app, "male", 30).await;
    let (status, body) = app.random(&m.token, 0).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "m must not be matched with her: {body}"
    );
    assert_eq!(balance(&app, &f.token).await, 0);
    assert_eq!(
        ledger(&app, f.id).await,
        (0, 1),
        "only the other device's charge"
    );
    // she is out of the pool; he is still in it, in his place
    let w = member(&app, "female", 30).await;
    let (status, body) = app.random(&w.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["matched_user"]["id"], m.id);
    assert_eq!(
        app.random(&f.token, 0).await,
        (
            StatusCode::PAYMENT_REQUIRED,
            json!({"error": "보석이 부족합니다.", "code": "not_enough_gems", "required": 1, "balance": 0})
        )
    );
}

#[tokio::test]
async fn a_pair_undone_for_want_of_a_replica_puts_its_caller_back_with_their_own_card() {
    // more replicas than any test Redis has: WAIT never succeeds, so a pair that owes
    // gems is undone and its caller told 503
    let app = spawn_app_with(&[("REDIS_WAIT_REPLICAS", "9"), ("REDIS_WAIT_MS", "10")]).await;
    let f = member(&app, "female", 30).await;
    wants(&app, &f, "male").await;
    grant_gems(&app, f.id, 1).await;
    app.random(&f.token, 0).await;
    let m = member(&app, "male", 30).await;
    let (status, body) = app.random(&m.token, 0).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // he is back in line; who finds him sees his card as he sent it, not as it was
    // shown to her with what they share
    let w = member(&app, "female", 30).await;
    let res = app
        .client
        .get(app.at("/api/match/random/?wait=0"))
        .bearer_auth(&w.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert_eq!(text.matches("shared_interests").count(), 1, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["matched_user"]["id"], m.id);
    assert_eq!(
        balance(&app, &f.token).await,
        1,
        "nothing charged for the undone pair"
    );
}

#[tokio::test]
async fn a_storm_of_filtered_requests_charges_exactly_the_matches_made() {
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "20"), ("REDIS_POOL_SIZE", "4")]).await;
    let mut users = Vec::new();
    for i in 0..60 {
        let (gender, wanted) = if i % 2 == 0 {
            ("male", "female")
        } else {
            ("female", "male")
        };
        let user = member(&app, gender, 30).await;
        wants(&app, &user, wanted).await;
        grant_gems(&app, user.id, 1).await;
        users.push(user);
    }
    // every user sends two requests at once (two devices)
    let requests = users
        .iter()
        .flat_map(|u| [app.random(&u.token, 2), app.random(&u.token, 2)]);
    futures_util::future::join_all(requests).await;
    let everyone: Vec<&Member> = users.iter().collect();
    let matched = settle(&app, &everyone, HashMap::new()).await;
    assert_eq!(matched.len(), 60, "every man fits every woman");
    for user in &users {
        let gems = balance(&app, &user.token).await;
        let (sum, charges) = ledger(&app, user.id).await;
        assert_eq!(
            (gems, sum, charges),
            (0, 0, 1),
            "user {}: charged {charges} times",
            user.id
        );
        let charged_for: String = sqlx::query_scalar(
            "SELECT ref FROM gem_ledger WHERE user_id = $1 AND reason = 'filter_match'",
        )
        .bind(user.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            charged_for,
            matched[&user.id].1.to_string(),
            "charged for another match"
        );
    }
}

async fn charge(app: &TestApp, token: &str, payment: &str) -> (StatusCode, serde_json::Value) {
    app.post(
        "/api/gem/charge/",
        Some(token),
        &json!({"payment_token": payment}),
    )
    .await
}

async fn payment_rows(app: &TestApp, uid: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM gem_ledger WHERE user_id = $1 AND reason = 'payment'")
        .bind(uid)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn development_tokens_credit_once_and_repeats_get_the_first_answer() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    grant_gems(&app, m.id, 3).await;
    let first = charge(&app, &m.token, "test_100_order-1").await;
    assert_eq!(
        first,
        (
            StatusCode::OK,
            json!({"gems_added": 100, "new_balance": 103})
        )
    );
    let (_, _) = charge(&app, &m.token, "test_5_order-2").await;
    assert_eq!(charge(&app, &m.token, "test_100_order-1").await, first);
    assert_eq!(balance(&app, &m.token).await, 108);
    assert_eq!(payment_rows(&app, m.id).await, 2);
    assert_eq!(ledger(&app, m.id).await.0, 108);
    for bad in ["nope", "test_0_x", "test_10_"] {
        assert_eq!(
            charge(&app, &m.token, bad).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                validation("payment_token: invalid")
            ),
            "{bad}"
        );
    }
    assert_eq!(
        charge(&app, &m.token, "").await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("payment_token: must be 1 to 512 characters")
        )
    );
    assert_eq!(balance(&app, &m.token).await, 108);
}

#[tokio::test]
async fn one_token_sent_many_times_at_once_credits_once() {
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "12")]).await;
    let m = member(&app, "male", 30).await;
    let results = futures_util::future::join_all(
        (0..12).map(|_| charge(&app, &m.token, "test_50_same-instant")),
    )
    .await;
    for result in &results {
        assert_eq!(
            *result,
            (StatusCode::OK, json!({"gems_added": 50, "new_balance": 50}))
        );
    }
    assert_eq!(balance(&app, &m.token).await, 50);
    assert_eq!(payment_rows(&app, m.id).await, 1);
}

#[tokio::test]
async fn a_token_used_by_someone_else_is_409() {
    let app = spawn_app().await;
    let (m, n) = (
        member(&app, "male", 30).await,
        member(&app, "female", 30).await,
    );
    assert_eq!(
        charge(&app, &m.token, "test_7_shared").await.0,
        StatusCode::OK
    );
    assert_eq!(
        charge(&app, &n.token, "test_7_shared").await,
        (
            StatusCode::CONFLICT,
            json!({"error": "이미 사용된 결제 토큰입니다.", "code": "payment_token_used"})
        )
    );
    assert_eq!(balance(&app, &n.token).await, 0);
}

#[tokio::test]
async fn the_http_verifier_credits_refuses_and_fails_safely() {
    let verifier = stand_in(200, r#"{"valid": true, "gems": 30}"#).await;
    let app = spawn_app_with(&[
        ("PAYMENT_VERIFIER_URL", &verifier.url),
        ("PAYMENT_VERIFIER_KEY", "verifier-key"),
        ("PAYMENT_VERIFIER_TIMEOUT_MS", "300"),
    ])
    .await;
    let m = member(&app, "male", 30).await;
    assert_eq!(
        charge(&app, &m.token, "store-receipt-1").await,
        (StatusCode::OK, json!({"gems_added": 30, "new_balance": 30}))
    );
    let (auth, sent) = verifier.received.lock().await.pop().unwrap();
    assert_eq!(
        (auth.as_deref(), sent),
        (
            Some("Bearer verifier-key"),
            json!({"payment_token": "store-receipt-1"})
        )
    );
    // the development tokens mean nothing to a real verifier
    verifier.answer(200, r#"{"valid": false}"#, 0);
    assert_eq!(
        charge(&app, &m.token, "test_100_x").await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("payment_token: invalid")
        )
    );
    verifier.answer(404, "{}", 0);
    assert_eq!(
        charge(&app, &m.token, "store-receipt-2").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // errors, time-outs and nonsense: 503, nothing credited, the token still usable
    let unavailable = (
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "Service unavailable", "code": "service_unavailable"}),
    );
    for (status, body, delay) in [
        (500, "{}", 0),
        (200, r#"{"valid": true, "gems": 30}"#, 1000),
        (200, "not json", 0),
    ] {
        verifier.answer(status, body, delay);
        assert_eq!(
            charge(&app, &m.token, "store-receipt-3").await,
            unavailable,
            "{status} {body} {delay}"
        );
    }
    assert_eq!(balance(&app, &m.token).await, 30);
    verifier.answer(200, r#"{"valid": true, "gems": 12}"#, 0);
    assert_eq!(
        charge(&app, &m.token, "store-receipt-3").await,
        (StatusCode::OK, json!({"gems_added": 12, "new_balance": 42}))
    );
    assert_eq!(payment_rows(&app, m.id).await, 2);
}

#[tokio::test]
async fn a_second_request_of_a_caller_whose_pair_is_being_charged_gets_that_match() {
    // Postgres 150 ms away each way: charging a pair takes a second or more
    let link = slow_link("127.0.0.1:15432", std::time::Duration::from_millis(150)).await;
    let url = database_url().replace("127.0.0.1:15432", &link);
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let w = member(&app, "female", 26).await;
    let f = member(&app, "male", 29).await;
    wants(&app, &f, "female").await;
    grant_gems(&app, f.id, 1).await;
    assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
    // f's first request pairs and charges; a second one (another device, or a retry
    // after the first was cut off) finds the pair being paid for and waits for it
    let pointer = format!("{}{{pool:global}}:um:{}", app.prefix, f.id);
    let paired = || async {
        use fred::prelude::*;
        let id: Option<i64> = app.state.redis.pool.get(&pointer).await.unwrap();
        id
    };
    let (first, second) = tokio::join!(app.random(&f.token, 0), async {
        let id = eventually(paired, Option::is_some).await;
        assert!(id.is_some(), "no pair");
        app.random(&f.token, 5).await
    });
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(second.0, StatusCode::OK, "{}", second.1);
    assert_eq!(second.1["match_id"], first.1["match_id"]);
    assert_eq!(balance(&app, &f.token).await, 0);
}
