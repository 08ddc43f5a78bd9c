//! WebSocket and SSE delivery, across nodes and across real processes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// An open SSE stream.
pub struct Sse {
    stream:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

async fn sse(app: &TestApp, base: &str, token: &str) -> Sse {
    sse_after(app, base, token, None).await
}

/// An SSE stream that resumes after `last` (`Last-Event-ID`).
pub async fn sse_after(app: &TestApp, base: &str, token: &str, last: Option<&str>) -> Sse {
    let mut req = app
        .client
        .get(format!("{base}/api/events"))
        .bearer_auth(token);
    if let Some(last) = last {
        req = req.header("last-event-id", last);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    Sse {
        stream: Box::pin(res.bytes_stream()),
        buffer: String::new(),
    }
}

impl Sse {
    /// The data of the next SSE event named `kind`.
    async fn next_event(&mut self, kind: &str) -> Value {
        self.next_with_id(kind).await.1
    }

    /// The `id:` and the data of the next SSE event named `kind`.
    pub async fn next_with_id(&mut self, kind: &str) -> (String, Value) {
        let wait = async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let name = block
                        .lines()
                        .find_map(|l| l.strip_prefix("event:"))
                        .map(str::trim);
                    let data = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data:"))
                        .map(str::trim);
                    let id = block
                        .lines()
                        .find_map(|l| l.strip_prefix("id:"))
                        .map_or(String::new(), |id| id.trim().to_owned());
                    if let (Some(name), Some(data)) = (name, data)
                        && name == kind
                    {
                        return (id, serde_json::from_str(data).unwrap());
                    }
                }
                let chunk = self.stream.next().await.expect("stream open").unwrap();
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("event in time")
    }
}

#[tokio::test]
async fn websocket_and_sse_clients_receive_match_found_and_decisions() {
    let app = spawn_app().await;
    let a = member(&app, "female", 25).await;
    let b = member(&app, "male", 27).await;
    let mut socket = websocket(&app.url, &a.token).await;
    let mut stream = sse(&app, &app.url, &a.token).await;
    app.random(&a.token, 0).await;
    let (_, found) = app.random(&b.token, 0).await;
    let id = found["match_id"].as_i64().unwrap();
    for event in [
        next_event(&mut socket, "match_found").await,
        stream.next_event("match_found").await,
    ] {
        assert_eq!(event["match_id"], id);
        assert_eq!(event["show_time_sec"], 10);
        assert_eq!(event["matched_user"]["id"], b.id);
        assert_eq!(event["matched_user"]["username"], b.username.as_str());
    }
    app.decide(&b.token, id, "reject").await;
    let expected = json!({"type": "match_decided", "match_id": id, "status": "next"});
    assert_eq!(next_event(&mut socket, "match_decided").await, expected);
    assert_eq!(stream.next_event("match_decided").await, expected);
}

#[tokio::test]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let url = format!("{}/ws?token=nope", app.url.replacen("http", "ws", 1));
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(
                body,
                json!({"error": "Invalid token", "code": "invalid_token"})
            );
        }
        other => panic!("expected a 401, got {other:?}"),
    }
    assert_eq!(
        app.get("/api/events", Some("nope")).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid token", "code": "invalid_token"})
        )
    );
    let m = member(&app, "male", 30).await;
    let (status, body) = app.get("/ws", Some(&m.token)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            validation("connection: a WebSocket upgrade is required")
        )
    );
}

#[tokio::test]
async fn the_websocket_answers_pings_and_refuses_unknown_messages() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    let mut socket = websocket(&app.url, &m.token).await;
    socket
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut socket, "pong").await,
        json!({"type": "pong"})
    );
    // not JSON; and an array, which would fill the fields by position (a ping)
    for text in ["not json", r#"["ping", null, null, null]"#] {
        socket.send(Message::text(text)).await.unwrap();
        assert_eq!(
            next_event(&mut socket, "error").await,
            json!({"type": "error", "error": "Validation error", "code": "validation_error",
                   "details": "messages are JSON objects with a type"}),
            "{text}"
        );
    }
    socket
        .send(Message::text(r#"{"type":"dance"}"#))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut socket, "error").await,
        json!({"type": "error", "error": "Validation error", "code": "validation_error",
               "details": "unsupported message type: dance"})
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("websockets_open 1"), "{metrics}");
}

#[tokio::test]
async fn events_cross_nodes() {
    let app = spawn_app().await;
    let other = spawn_node(&app, &[]).await;
    let a = member(&app, "female", 25).await;
    let b = member(&app, "male", 27).await;
    // a listens on the other node; b is paired with a through the first node
    let mut socket = websocket(&other.url, &a.token).await;
    other.random(&a.token, 0).await;
    let (status, found) = app.random(&b.token, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        next_event(&mut socket, "match_found").await["match_id"],
        found["match_id"]
    );
}

#[tokio::test]
async fn two_server_processes_pair_users_and_relay_decisions() {
    let app = spawn_app().await;
    let (one, two) = tokio::join!(spawn_process(&app), spawn_process(&app));
    let client = reqwest::Client::new();
    let random = |base: &str, token: &str, wait: u64| {
        let req = client
            .get(format!("{base}/api/match/random/?wait={wait}"))
            .bearer_auth(token.to_owned());
        async move { parts(req.send().await.unwrap()).await }
    };
    let decide = |base: &str, token: &str, id: i64, decision: &str| {
        let req = client
            .post(format!("{base}/api/match/decision/"))
            .bearer_auth(token.to_owned())
            .json(&json!({"match_id": id, "decision": decision}));
        async move { parts(req.send().await.unwrap()).await }
    };
    let a = member(&app, "female", 25).await;
    let b = member(&app, "male", 27).await;
    // a long-polls on process one; b arrives on process two
    let (ra, rb) = tokio::join!(random(&one.url, &a.token, 10), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        random(&two.url, &b.token, 0).await
    });
    assert_eq!((ra.0, rb.0), (StatusCode::OK, StatusCode::OK));
    let id = ra.1["match_id"].as_i64().unwrap();
    assert_eq!(rb.1["match_id"], id);
    // a accepts on one and waits; b's accept on two is heard there
    let (da, db) = tokio::join!(decide(&one.url, &a.token, id, "accept"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        decide(&two.url, &b.token, id, "accept").await
    });
    assert_eq!(da, (StatusCode::OK, json!({"status": "matched"})));
    assert_eq!(db, (StatusCode::OK, json!({"status": "matched"})));

    // and a reject on one node ends the other's wait at once
    let c = member(&app, "female", 25).await;
    let d = member(&app, "male", 27).await;
    random(&two.url, &c.token, 0).await;
    let (_, found) = random(&one.url, &d.token, 0).await;
    let id = found["match_id"].as_i64().unwrap();
    let started = std::time::Instant::now();
    let (dc, dd) = tokio::join!(decide(&two.url, &c.token, id, "accept"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        decide(&one.url, &d.token, id, "reject").await
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(dc, (StatusCode::OK, json!({"status": "next"})));
    assert_eq!(dd, (StatusCode::OK, json!({"status": "next"})));
}

#[tokio::test]
async fn the_event_bus_survives_a_burst() {
    let app = spawn_app().await;
    let m = member(&app, "male", 30).await;
    let mut socket = websocket(&app.url, &m.token).await;
    // a crowd's worth of events for somebody else, all at once
    let noise = (0..5000).map(|i| {
        let event = format!(r#"{{"type":"match_decided","match_id":{i},"status":"next"}}"#);
        let redis = app.state.redis.clone();
        async move {
            voxmatch::realtime::bus::publish(&redis, &[-1], &event)
                .await
                .unwrap()
        }
    });
    futures_util::future::join_all(noise).await;
    let last = r#"{"type":"match_decided","match_id":424242,"status":"next"}"#;
    voxmatch::realtime::bus::publish(&app.state.redis, &[m.id], last)
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut socket, "match_decided").await["match_id"],
        424242
    );
}

/// The close code a socket receives within 10 s (pings answered meanwhile).
pub async fn close_code(socket: &mut Socket) -> Option<u16> {
    let wait = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the socket closes in time")
}

impl Sse {
    /// True when the stream ends within 10 s.
    async fn ends(&mut self) -> bool {
        let wait = async {
            while let Some(chunk) = self.stream.next().await {
                if chunk.is_err() {
                    return true;
                }
            }
            true
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or(false)
    }
}

#[tokio::test]
async fn logout_closes_the_sessions_websockets_and_event_streams_on_every_node() {
    let app = spawn_app().await;
    let other = spawn_node(&app, &[]).await;
    let user = app.signup().await;
    let mut socket = websocket(&other.url, &user.access).await;
    let mut stream = sse(&app, &other.url, &user.access).await;
    // another device of the same user stays signed in
    let (_, second) = app.login(&user.username, &user.password).await;
    let mut kept = websocket(&other.url, second["access"].as_str().unwrap()).await;
    let (status, _) = app.logout(&user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(close_code(&mut socket).await, Some(4001));
    assert!(stream.ends().await);
    kept.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(next_event(&mut kept, "pong").await["type"], "pong");
}

#[tokio::test]
async fn streams_end_when_their_token_expires_unless_the_socket_authenticates_again() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL_SEC", "3")]).await;
    let user = app.signup().await;
    let mut expiring = websocket(&app.url, &user.access).await;
    let mut stream = sse(&app, &app.url, &user.access).await;
    let mut renewed = websocket(&app.url, &user.access).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, fresh) = app
        .post(
            "/api/auth/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    let auth = json!({"type": "auth", "token": fresh["access"]});
    renewed.send(Message::text(auth.to_string())).await.unwrap();
    assert_eq!(
        next_event(&mut renewed, "authenticated").await["type"],
        "authenticated"
    );
    // a token of nobody's is refused, and the socket keeps its own
    let bad = json!({"type": "auth", "token": "nope"});
    renewed.send(Message::text(bad.to_string())).await.unwrap();
    assert_eq!(
        next_event(&mut renewed, "error").await,
        json!({"type": "error", "error": "Invalid token", "code": "invalid_token"})
    );
    assert_eq!(close_code(&mut expiring).await, Some(4001));
    assert!(stream.ends().await);
    // past the first token's expiry the renewed socket still answers
    renewed
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(next_event(&mut renewed, "pong").await["type"], "pong");
    assert_eq!(close_code(&mut renewed).await, Some(4001));
}

#[tokio::test]
async fn a_websocket_that_stops_answering_pings_is_closed_and_its_user_leaves_the_pool() {
    let app = spawn_app_with(&[("WS_PONG_TIMEOUT_SEC", "1"), ("GHOST_TIMEOUT_SEC", "1")]).await;
    let (gone, alive) = (
        member(&app, "female", 25).await,
        member(&app, "female", 26).await,
    );
    // both wait in the pool (for nobody who is here), kept alive by nothing but their WebSockets
    for m in [&gone, &alive] {
        let (status, _) = app.settings(&m.token, json!({"age_range": [40, 40]})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let _silent = websocket(&app.url, &gone.token).await;
    let mut listening = websocket(&app.url, &alive.token).await;
    assert_eq!(app.random(&gone.token, 0).await.0, StatusCode::ACCEPTED);
    assert_eq!(app.random(&alive.token, 0).await.0, StatusCode::ACCEPTED);
    // one client reads (and so answers pings); the other never reads again
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = listening.next().await {} });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("websockets_open 1\n"), "{metrics}");
    use fred::prelude::*;
    let seen = format!("{}{{pool:global}}:seen", app.prefix);
    let redis = &app.state.redis.pool;
    let score: Option<f64> = redis.zscore(&seen, gone.id).await.unwrap();
    assert_eq!(score, None, "the vanished phone is a ghost");
    let score: Option<f64> = redis.zscore(&seen, alive.id).await.unwrap();
    assert!(score.is_some(), "the listening phone still waits");
    reader.abort();
}

/// A `match_found` of match `match_id` with user `partner`, as a pairing sends it.
fn match_found(match_id: i64, partner: i64) -> String {
    json!({"type": "match_found", "match_id": match_id, "show_time_sec": 10,
           "matched_user": {"id": partner, "username": "p", "age": 30, "gender": "male",
                            "profile_image": null, "rating": 0.0, "languages": [],
                            "interests": [], "shared_interests": []}})
    .to_string()
}

/// A `match_found` of match `match_id` for `uid` on the bus, 300 ms from now, marked
/// `answered` or not.
async fn deliver_later(app: &TestApp, uid: i64, match_id: i64, answered: bool) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let event = match_found(match_id, 7);
    voxmatch::realtime::bus::deliver(&app.state.redis, &[uid], &event, answered)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_long_poll_does_not_take_a_match_its_user_was_answered_with_already() {
    let app = spawn_app().await;
    let w = member(&app, "female", 27).await;
    // the caller of a pairing is answered by their own request; their match_found,
    // reaching a later long poll of theirs, would show them a match that is over
    let ((status, body), ()) =
        tokio::join!(app.random(&w.token, 2), deliver_later(&app, w.id, 41, true));
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::ACCEPTED, &json!("waiting")),
        "{body}"
    );
    // the same event, not marked, is taken at once
    let ((status, body), ()) = tokio::join!(
        app.random(&w.token, 10),
        deliver_later(&app, w.id, 42, false)
    );
    assert_eq!((status, &body["match_id"]), (StatusCode::OK, &json!(42)));
}

#[tokio::test]
async fn a_pairings_caller_has_their_match_found_marked_answered_on_the_bus_and_in_their_stream() {
    let app = spawn_app().await;
    // a free pair (announced by pair.lua) and one that owes gems (by confirm.lua)
    for owes_gems in [false, true] {
        let w = member(&app, "female", 26).await;
        let f = member(&app, "male", 29).await;
        if owes_gems {
            settings(&app, &f, json!({"preferred_gender": "female"})).await;
            grant_gems(&app, f.id, 1).await;
        }
        let mut heard_w = app.state.hub.subscribe(w.id).await.unwrap();
        let mut heard_f = app.state.hub.subscribe(f.id).await.unwrap();
        assert_eq!(app.random(&w.token, 0).await.0, StatusCode::ACCEPTED);
        let (status, body) = app.random(&f.token, 0).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id = body["match_id"].as_i64();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        let live = |e: Option<std::sync::Arc<voxmatch::realtime::event::Event>>| {
            e.map(|e| (e.match_id, e.answered))
        };
        let found = |e: &voxmatch::realtime::event::Event| e.kind == "match_found";
        assert_eq!(
            live(heard_w.wait_for(until, found).await),
            Some((id, false))
        );
        assert_eq!(live(heard_f.wait_for(until, found).await), Some((id, true)));
        // as a node reads them back after it lost bus messages
        let bus = app.state.hub.bus();
        for (uid, answered) in [(w.id, false), (f.id, true)] {
            let kept = bus.read_after(uid, "0").await.unwrap();
            let kept = kept
                .iter()
                .find(|e| found(e))
                .map(|e| (e.match_id, e.answered));
            assert_eq!(kept, Some((id, answered)), "owes gems: {owes_gems}");
        }
    }
}
