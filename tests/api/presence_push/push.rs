//! Push tokens and pushes to users with nothing open.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn push_tokens_register_move_and_unregister() {
    let provider = stand_in(200, "{}").await;
    let app = with_push(&provider, &[]).await;
    let (me, other) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    let saved = json!({"message": "푸시 토큰이 등록되었습니다.", "platform": "fcm"});
    let body = json!({"platform": "fcm", "token": "device-1"});
    assert_eq!(
        register(&app, &me.token, body.clone()).await,
        (StatusCode::CREATED, saved.clone())
    );
    assert_eq!(
        register(&app, &me.token, body.clone()).await,
        (StatusCode::OK, saved.clone())
    );
    // the phone changed hands: the token moves
    assert_eq!(
        register(&app, &other.token, body.clone()).await,
        (StatusCode::CREATED, saved)
    );
    let owner: i64 = sqlx::query_scalar("SELECT user_id FROM push_tokens WHERE token = 'device-1'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(owner, other.id);

    let removed = json!({"message": "푸시 토큰이 해제되었습니다."});
    // not theirs any more: nothing happens
    assert_eq!(
        unregister(&app, &me.token, json!({"token": "device-1"})).await,
        (StatusCode::OK, removed.clone())
    );
    let (status, body) = register(
        &app,
        &other.token,
        json!({"platform": "apns", "token": "device-1"}),
    )
    .await;
    assert_eq!(
        (status, body["platform"].as_str()),
        (StatusCode::CREATED, Some("apns"))
    );
    assert_eq!(
        unregister(&app, &other.token, json!({"token": "device-1"})).await,
        (StatusCode::OK, removed.clone())
    );
    assert_eq!(
        unregister(&app, &other.token, json!({"token": "device-1"})).await,
        (StatusCode::OK, removed)
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM push_tokens")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn bad_push_tokens_are_422() {
    let app = spawn_app().await;
    let me = member(&app, "female", 25).await;
    let too_long = "x".repeat(4097);
    let length = validation("token: must be 1 to 4096 characters");
    for (body, expected) in [
        (
            json!({"platform": "web", "token": "t"}),
            validation("platform: unknown variant `web`, expected `fcm` or `apns`"),
        ),
        (json!({"platform": "fcm", "token": ""}), length.clone()),
        (json!({"platform": "fcm", "token": "  "}), length.clone()),
        (
            json!({"platform": "apns", "token": too_long}),
            length.clone(),
        ),
    ] {
        assert_eq!(
            register(&app, &me.token, body).await,
            (StatusCode::UNPROCESSABLE_ENTITY, expected)
        );
    }
    assert_eq!(
        unregister(&app, &me.token, json!({"token": ""})).await,
        (StatusCode::UNPROCESSABLE_ENTITY, length)
    );
    let (status, _) = register(
        &app,
        &me.token,
        json!({"platform": "fcm", "token": "x".repeat(4096)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(
            "/api/push/tokens",
            None,
            &json!({"platform": "fcm", "token": "t"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn messages_are_pushed_only_to_users_with_nothing_open() {
    let provider = stand_in(200, "{}").await;
    let a = with_push(&provider, &[]).await;
    let b = spawn_node(
        &a,
        &[
            ("PUSH_PROVIDER_URL", &provider.url),
            ("PUSH_PROVIDER_KEY", "push-key"),
        ],
    )
    .await;
    let (me, friend) = (member(&a, "female", 25).await, member(&a, "male", 30).await);
    let conversation = converse(&a, me.id, friend.id).await;
    register(
        &a,
        &friend.token,
        json!({"platform": "apns", "token": "friend-phone"}),
    )
    .await;

    // a socket open on node B: the event goes there, no push
    let mut socket = websocket(&b.url, &friend.token).await;
    let (status, body) = send_message(&a, &me.token, conversation).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        next_event(&mut socket, "new_message").await["message_id"],
        body["message_id"]
    );
    assert!(pushes(&provider, 1).await.is_empty());

    // closed: the next message is pushed, once
    socket.close(None).await.unwrap();
    until_offline(&a, &me.token, friend.id).await;
    let (_, sent) = send_message(&a, &me.token, conversation).await;
    let received = pushes(&provider, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let (auth, push) = &received[0];
    assert_eq!(auth.as_deref(), Some("Bearer push-key"));
    assert_eq!(push["platform"], "apns");
    assert_eq!(push["token"], "friend-phone");
    assert_eq!(push["event"]["type"], "new_message");
    assert_eq!(push["event"]["conversation_id"], conversation);
    assert_eq!(push["event"]["message_id"], sent["message_id"]);
    assert_eq!(push["event"]["sender"]["id"], me.id);
}

#[tokio::test]
async fn an_event_offered_by_two_nodes_is_pushed_once() {
    let provider = stand_in(200, "{}").await;
    let a = with_push(&provider, &[]).await;
    let b = spawn_node(&a, &[("PUSH_PROVIDER_URL", &provider.url)]).await;
    let me = member(&a, "female", 25).await;
    register(
        &a,
        &me.token,
        json!({"platform": "fcm", "token": "my-phone"}),
    )
    .await;
    let event =
        json!({"type": "match_found", "match_id": 7, "show_time_sec": 10, "matched_user": {}})
            .to_string();
    for _ in 0..3 {
        a.state.push.offer(me.id, "match:7".into(), event.clone());
        b.state.push.offer(me.id, "match:7".into(), event.clone());
    }
    let received = pushes(&provider, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].1["event"]["match_id"], 7);
}

#[tokio::test]
async fn a_waiting_partner_is_told_of_the_match_by_push() {
    let provider = stand_in(200, "{}").await;
    let app = with_push(&provider, &[]).await;
    let (waiting, caller) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    register(
        &app,
        &waiting.token,
        json!({"platform": "fcm", "token": "waiting-phone"}),
    )
    .await;
    register(
        &app,
        &caller.token,
        json!({"platform": "fcm", "token": "caller-phone"}),
    )
    .await;
    assert_eq!(app.random(&waiting.token, 0).await.0, StatusCode::ACCEPTED);
    let (status, body) = app.random(&caller.token, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let received = pushes(&provider, 1).await;
    // the caller has the answer of their request
    assert_eq!(received.len(), 1, "{received:?}");
    let push = &received[0].1;
    assert_eq!(push["token"], "waiting-phone");
    assert_eq!(push["event"]["type"], "match_found");
    assert_eq!(push["event"]["match_id"], body["match_id"]);
    assert_eq!(push["event"]["matched_user"]["id"], caller.id);
}

#[tokio::test]
async fn a_token_the_provider_calls_gone_is_deleted_and_failures_are_retried() {
    let provider = stand_in(410, "gone").await;
    let app = with_push(&provider, &[]).await;
    let (me, friend) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    let conversation = converse(&app, me.id, friend.id).await;
    register(
        &app,
        &friend.token,
        json!({"platform": "fcm", "token": "old-phone"}),
    )
    .await;
    send_message(&app, &me.token, conversation).await;
    assert_eq!(pushes(&provider, 1).await.len(), 1, "a 410 is not retried");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM push_tokens WHERE user_id = $1")
        .bind(friend.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // a provider in trouble (5xx) is tried three times, and the token stays
    provider.answer(503, "busy", 0);
    provider.received.lock().await.clear();
    register(
        &app,
        &friend.token,
        json!({"platform": "fcm", "token": "new-phone"}),
    )
    .await;
    send_message(&app, &me.token, conversation).await;
    assert_eq!(pushes(&provider, 3).await.len(), 3);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM push_tokens WHERE user_id = $1")
        .bind(friend.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

#[tokio::test]
async fn a_provider_that_hangs_slows_no_request_and_a_full_queue_drops() {
    let provider = stand_in(200, "{}").await;
    provider.answer(200, "{}", 30_000);
    let app = with_push(&provider, &[("PUSH_QUEUE", "4")]).await;
    let (me, friend) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    let conversation = converse(&app, me.id, friend.id).await;
    register(
        &app,
        &friend.token,
        json!({"platform": "fcm", "token": "slow-phone"}),
    )
    .await;
    let started = Instant::now();
    for _ in 0..5 {
        let (status, body) = send_message(&app, &me.token, conversation).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // more offers than the calls in flight and the queue hold: dropped, counted
    for i in 0..100 {
        app.state.push.offer(
            friend.id,
            format!("test:{i}"),
            json!({"type": "x"}).to_string(),
        );
    }
    let metrics = app.metrics().await;
    let dropped = metrics
        .lines()
        .find(|l| l.starts_with("push_notifications_total{outcome=\"dropped\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(dropped >= 50, "{metrics}");
}

#[tokio::test]
async fn a_broadcaster_with_nothing_open_is_told_of_a_reply_by_push() {
    let provider = stand_in(200, "{}").await;
    let app = with_push(&provider, &[]).await;
    let (owner, fan) = (
        member(&app, "female", 25).await,
        member(&app, "male", 30).await,
    );
    register(
        &app,
        &owner.token,
        json!({"platform": "fcm", "token": "owner-phone"}),
    )
    .await;
    let (status, body) = post_voice(&app, &owner.token, "/api/broadcasts").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["broadcast"]["id"].as_i64().unwrap();
    let (status, reply) =
        post_voice(&app, &fan.token, &format!("/api/broadcasts/{id}/reply")).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let received = pushes(&provider, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let push = &received[0].1;
    assert_eq!(push["token"], "owner-phone");
    assert_eq!(push["event"]["type"], "broadcast_reply");
    assert_eq!(push["event"]["broadcast_id"], id);
    assert_eq!(push["event"]["conversation_id"], reply["conversation_id"]);
    assert_eq!(push["event"]["from"]["id"], fan.id);
}
