//! Calls: sessions, ending once, the reaper, events, signaling, ICE servers.

use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// No event of `kind` within `wait`.
async fn quiet(socket: &mut Socket, kind: &str, wait: Duration) {
    let listen = async {
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let event: Value = serde_json::from_str(&text).unwrap();
            assert_ne!(event["type"], kind, "unexpected {event}");
        }
    };
    let _ = tokio::time::timeout(wait, listen).await;
}

async fn rows(app: &TestApp, session: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT id, end_reason FROM calls WHERE call_session_id = $1")
        .bind(session)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn both_sides_get_one_unguessable_session() {
    let app = spawn_app().await;
    let (a, b, id) = matched(&app).await;
    let ((sa, ba), (sb, bb)) =
        tokio::join!(app.start_call(&a.token, id), app.start_call(&b.token, id));
    assert_eq!((sa, sb), (StatusCode::OK, StatusCode::OK));
    let session = ba["call_session_id"].as_str().unwrap().to_owned();
    assert_eq!(bb["call_session_id"], session.as_str());
    assert!(
        session.len() >= 32 && session.bytes().all(|c| c.is_ascii_hexdigit()),
        "{session}"
    );
    assert_eq!(
        app.start_call(&a.token, id).await.1["call_session_id"],
        session.as_str()
    );
    // another match gets another session
    let (c, _, other) = matched(&app).await;
    assert_ne!(
        app.start_call(&c.token, other).await.1["call_session_id"],
        session.as_str()
    );
}

#[tokio::test]
async fn only_the_users_of_a_matched_match_start_a_call() {
    let app = spawn_app().await;
    let (_, _, id) = matched(&app).await;
    let outsider = member(&app, "male", 40).await;
    assert_eq!(
        app.start_call(&outsider.token, id).await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Unauthorized access", "code": "forbidden"})
        )
    );
    assert_eq!(
        app.start_call(&outsider.token, id + 64_000).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
    // pending, then rejected: not (yet) matched
    let a = member(&app, "female", 24).await;
    let b = member(&app, "male", 31).await;
    app.random(&a.token, 0).await;
    let pending = app.random(&b.token, 0).await.1["match_id"]
        .as_i64()
        .unwrap();
    let conflict = (
        StatusCode::CONFLICT,
        json!({"error": "매칭이 성사되지 않은 상대입니다.", "code": "not_matched"}),
    );
    assert_eq!(app.start_call(&a.token, pending).await, conflict);
    app.decide(&b.token, pending, "reject").await;
    assert_eq!(app.start_call(&a.token, pending).await, conflict);
    let (status, body) = app
        .post(
            "/api/call/start/",
            Some(&a.token),
            &json!({"match_id": "x"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("match_id: invalid type: string \"x\", expected i64")
        )
    );
}

#[tokio::test]
async fn ending_writes_the_call_once_even_when_both_end_at_once() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let (a, b, id) = matched(&app).await;
        let session = app.start_call(&a.token, id).await.1["call_session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (ea, eb) = tokio::join!(
            app.end_call(&a.token, &session),
            app.end_call(&b.token, &session)
        );
        assert_eq!((ea.0, eb.0), (StatusCode::OK, StatusCode::OK));
        assert_eq!(ea.1["message"], "통화가 종료되었습니다.");
        assert_eq!(ea.1["call_id"], eb.1["call_id"]);
        let written = rows(&app, &session).await;
        assert_eq!(written.len(), 1);
        assert_eq!(
            written[0],
            (ea.1["call_id"].as_i64().unwrap(), "hangup".to_owned())
        );
        // ending again answers the same
        assert_eq!(
            app.end_call(&a.token, &session).await.1["call_id"],
            ea.1["call_id"]
        );
    }
}

#[tokio::test]
async fn the_call_row_holds_both_users_the_match_and_the_duration() {
    let app = spawn_app().await;
    let (a, b, id) = matched(&app).await;
    let session = app.start_call(&b.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, ended) = app.end_call(&b.token, &session).await;
    assert_eq!(ended["duration_sec"], 1);
    let row: (i64, i64, i64, i32, bool) = sqlx::query_as(
        "SELECT match_id, user_a, user_b, duration_sec, ended_at > started_at FROM calls WHERE call_session_id = $1",
    )
    .bind(&session)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!((row.0, row.3, row.4), (id, 1, true));
    let mut users = [row.1, row.2];
    users.sort();
    let mut expected = [a.id, b.id];
    expected.sort();
    assert_eq!(users, expected);
}

#[tokio::test]
async fn only_participants_end_a_call() {
    let app = spawn_app().await;
    let (a, _, id) = matched(&app).await;
    let session = app.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let outsider = member(&app, "male", 40).await;
    assert_eq!(
        app.end_call(&outsider.token, &session).await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Unauthorized access", "code": "forbidden"})
        )
    );
    assert_eq!(
        app.end_call(&a.token, "no-such-call").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Resource not found", "code": "not_found"})
        )
    );
    assert!(rows(&app, &session).await.is_empty());
}

#[tokio::test]
async fn call_started_and_call_ended_reach_both_sides() {
    let app = spawn_app().await;
    let (a, b, id) = matched(&app).await;
    let (mut sa, mut sb) = (
        websocket(&app.url, &a.token).await,
        websocket(&app.url, &b.token).await,
    );
    let session = app.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for socket in [&mut sa, &mut sb] {
        let started = next_event(socket, "call_started").await;
        assert_eq!(
            started,
            json!({"type": "call_started", "call_session_id": session, "match_id": id})
        );
    }
    app.start_call(&b.token, id).await;
    quiet(&mut sb, "call_started", Duration::from_millis(300)).await;
    let (_, ended) = app.end_call(&b.token, &session).await;
    for socket in [&mut sa, &mut sb] {
        let event = next_event(socket, "call_ended").await;
        assert_eq!(event["call_id"], ended["call_id"]);
        assert_eq!(event["reason"], "hangup");
    }
}

#[tokio::test]
async fn a_call_whose_sides_vanish_is_ended_and_written_by_the_server() {
    let app = spawn_app_with(&[("CALL_IDLE_TIMEOUT_SEC", "1")]).await;
    let (a, b, id) = matched(&app).await;
    let session = app.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let written = eventually(|| rows(&app, &session), |w| !w.is_empty()).await;
    assert_eq!(written.len(), 1, "the idle call was not written");
    assert_eq!(written[0].1, "idle");
    // a late hang-up finds the same call
    assert_eq!(
        app.end_call(&b.token, &session).await.1["call_id"],
        written[0].0
    );
}

#[tokio::test]
async fn an_open_websocket_keeps_a_call_alive() {
    let app = spawn_app_with(&[("CALL_IDLE_TIMEOUT_SEC", "1")]).await;
    let (a, _, id) = matched(&app).await;
    let socket = websocket(&app.url, &a.token).await;
    let session = app.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        rows(&app, &session).await.is_empty(),
        "ended while a side was connected"
    );
    drop(socket);
    let written = eventually(|| rows(&app, &session), |w| !w.is_empty()).await;
    assert_eq!(written.len(), 1);
}

#[tokio::test]
async fn another_node_ends_the_calls_of_a_node_that_died() {
    let app = spawn_app_with(&[("CALL_IDLE_TIMEOUT_SEC", "1")]).await;
    let dying = spawn_node(&app, &[("CALL_IDLE_TIMEOUT_SEC", "1")]).await;
    let (a, _, id) = matched(&dying).await;
    let session = dying.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(dying);
    assert_eq!(
        eventually(|| rows(&app, &session), |w| !w.is_empty())
            .await
            .len(),
        1,
        "the survivor did not reap the call"
    );
}

#[tokio::test]
async fn signaling_reaches_the_other_participant_across_processes_only() {
    let app = spawn_app().await;
    let (one, two) = tokio::join!(spawn_process(&app), spawn_process(&app));
    let (a, b, id) = matched(&app).await;
    let session = app.start_call(&a.token, id).await.1["call_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sa = websocket(&one.url, &a.token).await;
    let mut sb = websocket(&two.url, &b.token).await;
    let outsider = member(&app, "male", 40).await;
    let mut so = websocket(&one.url, &outsider.token).await;
    let offer = json!({"type": "signal", "call_session_id": session, "payload": {"sdp": "v=0 offer", "kind": "offer"}});
    sa.send(Message::text(offer.to_string())).await.unwrap();
    let got = next_event(&mut sb, "signal").await;
    assert_eq!(
        got,
        json!({"type": "signal", "call_session_id": session, "from": a.id, "payload": {"sdp": "v=0 offer", "kind": "offer"}})
    );
    // a pretty-printed payload (raw newlines between its tokens) arrives whole
    let pretty = format!(
        "{{\n  \"type\": \"signal\",\n  \"call_session_id\": \"{session}\",\n  \"payload\": {{\n    \"sdp\": \"v=0\\r\\nm=audio\"\n  }}\n}}"
    );
    sa.send(Message::text(pretty)).await.unwrap();
    assert_eq!(
        next_event(&mut sb, "signal").await["payload"],
        json!({"sdp": "v=0\r\nm=audio"})
    );
    let answer = json!({"type": "signal", "call_session_id": session, "payload": {"candidate": "a=candidate:1"}});
    sb.send(Message::text(answer.to_string())).await.unwrap();
    assert_eq!(next_event(&mut sa, "signal").await["from"], b.id);
    // an outsider cannot signal into the call
    so.send(Message::text(offer.to_string())).await.unwrap();
    assert_eq!(
        next_event(&mut so, "error").await,
        json!({"type": "error", "error": "Unauthorized access", "code": "forbidden", "call_session_id": session})
    );
    quiet(&mut sb, "signal", Duration::from_millis(500)).await;
    // payloads are size-limited
    let huge = json!({"type": "signal", "call_session_id": session, "payload": {"sdp": "x".repeat(17 * 1024)}});
    sa.send(Message::text(huge.to_string())).await.unwrap();
    assert_eq!(
        next_event(&mut sa, "error").await,
        json!({"type": "error", "error": "Payload too large", "code": "payload_too_large",
               "call_session_id": session})
    );
    let bare = json!({"type": "signal", "call_session_id": session});
    sa.send(Message::text(bare.to_string())).await.unwrap();
    assert_eq!(
        next_event(&mut sa, "error").await,
        json!({"type": "error", "error": "Validation error", "code": "validation_error",
               "details": "a signal needs call_session_id and payload"})
    );
    // and stop once the call ended
    app.end_call(&a.token, &session).await;
    sa.send(Message::text(offer.to_string())).await.unwrap();
    assert_eq!(
        next_event(&mut sa, "error").await,
        json!({"type": "error", "error": "Resource not found", "code": "not_found",
               "call_session_id": session})
    );
}

#[tokio::test]
async fn ice_servers_carry_time_limited_turn_credentials() {
    let app = spawn_app_with(&[
        ("STUN_URLS", "stun:stun.example.org:3478"),
        (
            "TURN_URLS",
            "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
        ),
        ("TURN_SECRET", "turn-shared-secret"),
        ("TURN_TTL_SEC", "600"),
    ])
    .await;
    let m = member(&app, "male", 30).await;
    let (status, body) = app.get("/api/call/ice-servers/", Some(&m.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ttl"], 600);
    let servers = body["ice_servers"].as_array().unwrap();
    assert_eq!(servers[0], json!({"urls": ["stun:stun.example.org:3478"]}));
    let turn = &servers[1];
    assert_eq!(
        turn["urls"],
        json!([
            "turn:turn.example.org:3478?transport=udp",
            "turns:turn.example.org:5349"
        ])
    );
    let username = turn["username"].as_str().unwrap();
    let (expiry, uid) = username.split_once(':').unwrap();
    assert_eq!(uid, m.id.to_string());
    let left = expiry.parse::<i64>().unwrap() - chrono::Utc::now().timestamp();
    assert!((595..=600).contains(&left), "{left}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"turn-shared-secret").unwrap();
    mac.update(username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(turn["credential"], expected.as_str());
    // without TURN configured, STUN only
    let plain = spawn_app().await;
    let m = member(&plain, "male", 30).await;
    let (_, body) = plain.get("/api/call/ice-servers/", Some(&m.token)).await;
    assert_eq!(
        body["ice_servers"],
        json!([{"urls": ["stun:stun.l.google.com:19302"]}])
    );
    assert_eq!(
        plain.get("/api/call/ice-servers/", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}
