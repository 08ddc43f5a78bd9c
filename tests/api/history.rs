//! Call history and ratings.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// A finished call between two fresh members: (a, b, call id).
async fn call(app: &TestApp) -> (Member, Member, i64) {
    let (a, b, id) = matched(app).await;
    let session = app.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, ended) = app.end_call(&a.token, &session).await;
    (a, b, ended["call_id"].as_i64().unwrap())
}

async fn rate(
    app: &TestApp,
    token: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    app.post("/api/history/rate/", Some(token), &body).await
}

#[tokio::test]
async fn recent_lists_calls_newest_first_with_the_partner() {
    let app = spawn_app_with(&[("REMATCH_COOLDOWN_SEC", "0")]).await;
    let (a, b, first) = call(&app).await;
    // a second call of `a`, with someone new
    let d = member(&app, "male", 33).await;
    app.random(&a.token, 0).await;
    let found = app.random(&d.token, 0).await.1;
    let id = found["match_id"].as_i64().unwrap();
    tokio::join!(
        app.decide(&a.token, id, "accept"),
        app.decide(&d.token, id, "accept")
    );
    let session = app.start_call(&d.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let newest = app.end_call(&d.token, &session).await.1["call_id"]
        .as_i64()
        .unwrap();

    let (status, list) = app.get("/api/history/recent/", Some(&a.token)).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["call_id"], newest);
    assert_eq!(list[0]["username"], d.username.as_str());
    assert_eq!(list[1]["call_id"], first);
    assert_eq!(list[1]["username"], b.username.as_str());
    assert!(list[0]["call_time"].as_str().unwrap().ends_with('Z'));
    // pages
    let (_, page) = app
        .get("/api/history/recent/?limit=1", Some(&a.token))
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    let (_, page) = app
        .get(
            &format!("/api/history/recent/?before={newest}"),
            Some(&a.token),
        )
        .await;
    assert_eq!(page.as_array().unwrap()[0]["call_id"], first);
    for bad in ["limit=0", "limit=101", "limit=x"] {
        let (status, _) = app
            .get(&format!("/api/history/recent/?{bad}"), Some(&a.token))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // someone else's calls are not listed
    let (_, theirs) = app.get("/api/history/recent/", Some(&b.token)).await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn ratings_are_for_participants_once_per_call() {
    let app = spawn_app().await;
    let (a, b, id) = call(&app).await;
    let (status, body) = rate(
        &app,
        &a.token,
        json!({"call_id": id, "rating": 5, "comment": "좋았어요"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CREATED,
            json!({"message": "평가가 등록되었습니다."})
        )
    );
    assert_eq!(
        rate(&app, &a.token, json!({"call_id": id, "rating": 4})).await,
        (
            StatusCode::CONFLICT,
            json!({"error": "이미 평가한 통화입니다.", "code": "already_rated"})
        )
    );
    // the other side rates separately
    assert_eq!(
        rate(&app, &b.token, json!({"call_id": id, "rating": 1}))
            .await
            .0,
        StatusCode::CREATED
    );
    let outsider = member(&app, "male", 40).await;
    assert_eq!(
        rate(&app, &outsider.token, json!({"call_id": id, "rating": 3})).await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Unauthorized access", "code": "forbidden"})
        )
    );
    assert_eq!(
        rate(&app, &a.token, json!({"call_id": id + 1000, "rating": 3})).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
}

#[tokio::test]
async fn ratings_are_checked_at_and_past_their_edges() {
    let app = spawn_app().await;
    let (a, b, id) = call(&app).await;
    for rating in [0, 6, -1] {
        let (status, body) = rate(&app, &a.token, json!({"call_id": id, "rating": rating})).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                validation("rating: must be 1 to 5")
            )
        );
    }
    let (status, body) = rate(
        &app,
        &a.token,
        json!({"call_id": id, "rating": 3, "comment": "가".repeat(501)}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("comment: at most 500 characters")
        )
    );
    let (status, _) = rate(
        &app,
        &a.token,
        json!({"call_id": id, "rating": 1, "comment": "가".repeat(500)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = rate(&app, &b.token, json!({"call_id": id, "rating": 5})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = rate(&app, &b.token, json!({"call_id": id, "rating": "five"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        validation("rating: invalid type: string \"five\", expected i32")
    );
}

#[tokio::test]
async fn a_rating_changes_the_next_matched_user_rating() {
    let app = spawn_app().await;
    let (a, b, id) = call(&app).await;
    rate(&app, &a.token, json!({"call_id": id, "rating": 4})).await;
    // b meets someone new, who sees b's average
    let c = member(&app, "female", 28).await;
    app.random(&c.token, 0).await;
    let (status, body) = app.random(&b.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.random(&c.token, 0).await.1["matched_user"]["rating"],
        4.0
    );
    assert_eq!(body["matched_user"]["rating"], 0.0, "c has no ratings");
}
