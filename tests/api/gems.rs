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
            json!({"error": "보석이 부족합니다.", "required": 1, "balance": 0})
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
            json!({"error": "보석이 부족합니다.", "required": 1, "balance": 0})
        )
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
