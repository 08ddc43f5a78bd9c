//! What nodes cache of sessions and of users for pairing, and how writes on
//! another node reach it (`voxmatch::cache`): at once through the bus, and
//! within `AUTH_CACHE_MS` / `CANDIDATE_CACHE_MS` when an invalidation is missed.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Two nodes that would trust what they cached for a minute.
async fn two_nodes() -> (TestApp, TestApp) {
    let vars = [("AUTH_CACHE_MS", "60000"), ("CANDIDATE_CACHE_MS", "60000")];
    let a = spawn_app_with(&vars).await;
    let b = spawn_node(&a, &vars).await;
    (a, b)
}

/// How long until `node` refuses `token`, polled every 10 ms, up to `limit`.
async fn refused_after(node: &TestApp, token: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if node.get("/api/user/profile/", Some(token)).await.0 == StatusCode::UNAUTHORIZED {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test]
async fn a_logout_on_one_node_is_refused_at_once_on_another() {
    let (a, b) = two_nodes().await;
    let user = a.signup().await;
    // node b has checked (and cached) the session
    assert_eq!(
        b.get("/api/user/profile/", Some(&user.access)).await.0,
        StatusCode::OK
    );
    let (status, _) = a.logout(&user).await;
    assert_eq!(status, StatusCode::OK);
    let after = refused_after(&b, &user.access, Duration::from_secs(5)).await;
    assert!(
        after.is_some_and(|t| t < Duration::from_secs(1)),
        "node b still took the revoked session after {after:?}"
    );
}

#[tokio::test]
async fn a_node_that_missed_a_revocation_refuses_within_auth_cache_ms() {
    let app = spawn_app_with(&[("AUTH_CACHE_MS", "700")]).await;
    let user = app.signup().await;
    assert_eq!(
        app.get("/api/user/profile/", Some(&user.access)).await.0,
        StatusCode::OK
    );
    // the session disappears from Redis without any invalidation on the bus
    delete_keys(&app, &redis_keys(&app, "sess:*").await).await;
    let after = refused_after(&app, &user.access, Duration::from_secs(5)).await;
    assert!(
        after.is_some_and(|t| t < Duration::from_millis(700 + 500)),
        "refused only after {after:?}"
    );
}

/// Makes `node` read and cache what pairing needs of `m`, leaving the pool empty.
/// (A read that overlaps an invalidation of anyone is not kept: it asks again.)
async fn cached_on(node: &TestApp, m: &Member) {
    let cached = eventually(
        || async {
            assert_eq!(node.random(&m.token, 0).await.0, StatusCode::ACCEPTED);
            node.cancel(&m.token).await;
            node.state.tickets.get(&m.id).is_ok()
        },
        |cached| *cached,
    )
    .await;
    assert!(cached, "not cached");
}

/// Waits until `node` has heard through the bus that `m` changed: it no longer
/// holds what it cached of them (the caches here would keep it for a minute).
async fn forgotten_on(node: &TestApp, m: &Member) {
    let forgotten = eventually(
        || async { node.state.tickets.get(&m.id).is_err() },
        |forgotten| *forgotten,
    )
    .await;
    assert!(
        forgotten,
        "the change never reached the node through the bus"
    );
}

#[tokio::test]
async fn a_block_on_one_node_keeps_the_pair_apart_on_another_once_the_bus_tells_it() {
    let (a, b) = two_nodes().await;
    let x = member(&a, "female", 30).await;
    let y = member(&a, "male", 30).await;
    cached_on(&b, &x).await;
    cached_on(&b, &y).await;
    let (status, body) = a
        .post(
            &format!("/api/users/{}/block", y.id),
            Some(&x.token),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    forgotten_on(&b, &x).await;
    forgotten_on(&b, &y).await;
    assert_eq!(b.random(&x.token, 0).await.0, StatusCode::ACCEPTED);
    let (status, body) = b.random(&y.token, 0).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "paired across a block: {body}"
    );
    // and unblocking lets them meet again, once the bus has told node b
    b.cancel(&y.token).await;
    cached_on(&b, &y).await;
    let (status, _) = a
        .post(
            &format!("/api/users/{}/unblock", y.id),
            Some(&x.token),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    forgotten_on(&b, &y).await;
    let (status, body) = b.random(&y.token, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched_user"]["id"], x.id);
}

#[tokio::test]
async fn settings_saved_on_one_node_are_used_by_another_once_the_bus_tells_it() {
    let (a, b) = two_nodes().await;
    let x = member(&a, "female", 30).await;
    let z = member(&a, "male", 30).await;
    cached_on(&b, &x).await;
    let (status, _) = a.settings(&x.token, json!({"age_range": [40, 50]})).await;
    assert_eq!(status, StatusCode::OK);
    forgotten_on(&b, &x).await;
    assert_eq!(b.random(&z.token, 0).await.0, StatusCode::ACCEPTED);
    let (status, body) = b.random(&x.token, 0).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "paired outside her range: {body}"
    );
}

#[tokio::test]
async fn gems_bought_on_one_node_count_at_once_on_another() {
    let (a, b) = two_nodes().await;
    let x = member(&a, "female", 30).await;
    let (status, _) = a
        .settings(&x.token, json!({"preferred_gender": "male"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = b.random(&x.token, 0).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    let (status, body) = a
        .post(
            "/api/gem/charge/",
            Some(&x.token),
            &json!({"payment_token": format!("test_5_{}", unique("r"))}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = b.random(&x.token, 0).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn a_purchase_whose_invalidation_was_missed_is_not_refused_for_want_of_gems() {
    let app = spawn_app_with(&[
        ("CANDIDATE_CACHE_MS", "60000"),
        ("FILTER_MATCH_GEM_COST", "3"),
    ])
    .await;
    let x = member(&app, "female", 30).await;
    settings(&app, &x, json!({"preferred_gender": "male"})).await;
    let cached = eventually(
        || async {
            let (status, body) = app.random(&x.token, 0).await;
            assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
            assert_eq!(body["balance"], 0);
            app.state.tickets.get(&x.id).is_ok()
        },
        |cached| *cached,
    )
    .await;
    assert!(cached, "not cached");
    // gems credited with no invalidation: the node still holds a balance of 0...
    let db = app.state.db.clone();
    let credit = |gems| {
        let db = db.clone();
        async move {
            let reference = unique("g");
            let credited =
                voxmatch::gems::ledger::credit(&db, x.id, gems, "test_grant", &reference);
            assert!(credited.await.unwrap());
        }
    };
    credit(1).await;
    assert_eq!(
        app.state.tickets.get(&x.id).map(|t| t.balance).ok(),
        Some(0)
    );
    // ...but a refusal tells the balance as it is
    let (status, body) = app.random(&x.token, 0).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["balance"], 1, "refused with a stale balance");
    credit(2).await;
    let (status, body) = app.random(&x.token, 0).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "refused on a stale balance: {body}"
    );
}

#[tokio::test]
async fn a_bus_burst_that_outruns_the_buffer_forgets_every_cache() {
    use voxmatch::realtime::bus::{Invalidation, invalidate};
    let app = spawn_app_with(&[("CANDIDATE_CACHE_MS", "60000"), ("EVENT_BUS_BUFFER", "1")]).await;
    let x = member(&app, "female", 30).await;
    cached_on(&app, &x).await;
    // a burst of invalidations of nobody: any of them may be lost, so all is forgotten
    let burst = (0..2_000).map(|_| invalidate(&app.state.redis, Invalidation::Users(vec![-1])));
    for sent in futures_util::future::join_all(burst).await {
        sent.unwrap();
    }
    let lagged = eventually(|| app.counter("event_bus_lagged_total"), |n| *n > 0.0).await;
    assert!(lagged > 0.0, "the burst never outran a buffer of one");
    assert!(app.state.tickets.get(&x.id).is_err(), "kept after a lag");
}
