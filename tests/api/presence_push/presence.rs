//! `GET /api/users/{id}/presence`: online across nodes, in a call, who may ask.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn presence_follows_websockets_and_streams_on_any_node() {
    let a = spawn_app().await;
    let b = spawn_node(&a, &[]).await;
    let (me, friend) = (member(&a, "female", 25).await, member(&a, "male", 30).await);
    converse(&a, me.id, friend.id).await;
    assert_eq!(
        presence(&a, &me.token, friend.id).await,
        (
            StatusCode::OK,
            json!({"online": false, "in_call": false, "last_seen": null})
        )
    );

    // a WebSocket on node B: online, seen now, asked on node A
    let mut socket = websocket(&b.url, &friend.token).await;
    let (status, body) = presence(&a, &me.token, friend.id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["online"].as_bool(), body["in_call"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(body["last_seen"].as_str().unwrap().ends_with('Z'), "{body}");

    socket.close(None).await.unwrap();
    let body = until_offline(&a, &me.token, friend.id).await;
    let seen = chrono::DateTime::parse_from_rfc3339(body["last_seen"].as_str().unwrap()).unwrap();
    assert!(
        (chrono::Utc::now() - seen.to_utc()).num_seconds() < 10,
        "{body}"
    );

    // an SSE stream counts too; a long poll does not
    let stream = a
        .client
        .get(a.at("/api/events"))
        .bearer_auth(&friend.token)
        .send()
        .await
        .unwrap();
    assert_eq!(presence(&b, &me.token, friend.id).await.1["online"], true);
    drop(stream);
    until_offline(&b, &me.token, friend.id).await;
    let (status, _) = a.random(&friend.token, 1).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(presence(&a, &me.token, friend.id).await.1["online"], false);
}

#[tokio::test]
async fn presence_shows_a_live_call() {
    let app = spawn_app().await;
    let (x, y, match_id) = matched(&app).await;
    converse(&app, x.id, y.id).await;
    let (status, body) = app.start_call(&x.token, match_id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = body["call_session_id"].as_str().unwrap().to_owned();
    let (status, body) = presence(&app, &y.token, x.id).await;
    assert_eq!(
        (status, body["in_call"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );
    app.end_call(&y.token, &session).await;
    assert_eq!(presence(&app, &y.token, x.id).await.1["in_call"], false);
}

#[tokio::test]
async fn presence_is_for_conversation_partners_only_and_never_across_a_block() {
    let app = spawn_app().await;
    let (me, friend, stranger) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
        member(&app, "male", 33).await,
    );
    converse(&app, me.id, friend.id).await;
    assert_eq!(
        presence(&app, &stranger.token, friend.id).await,
        (StatusCode::FORBIDDEN, FORBIDDEN())
    );
    assert_eq!(
        presence(&app, &me.token, stranger.id).await,
        (StatusCode::FORBIDDEN, FORBIDDEN())
    );
    assert_eq!(
        presence(&app, &me.token, 999_999_999).await,
        (StatusCode::FORBIDDEN, FORBIDDEN())
    );
    assert_eq!(presence(&app, &me.token, me.id).await.0, StatusCode::OK);
    let (status, _) = app
        .get(&format!("/api/users/{}/presence", friend.id), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // a block either way hides it from both
    let (status, _) = app
        .post(
            &format!("/users/{}/block", me.id),
            Some(&friend.token),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        presence(&app, &me.token, friend.id).await,
        (StatusCode::FORBIDDEN, FORBIDDEN())
    );
    assert_eq!(
        presence(&app, &friend.token, me.id).await,
        (StatusCode::FORBIDDEN, FORBIDDEN())
    );
}
