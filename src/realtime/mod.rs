//! Realtime delivery: the hub (`hub`), `GET /ws` (WebSocket) and `GET /api/events` (SSE).

pub mod hub;

use std::convert::Infallible;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::reply::{Reply, Response};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::http::{auth, with_state};
use crate::state::AppState;
use hub::Subscription;

/// Largest message a client may send over the WebSocket.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
const PING_EVERY: Duration = Duration::from_secs(20);

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let upgrade = warp::ws().map(Some).or(warp::any().map(|| None)).unify();
    let ws = warp::path!("ws")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth(state.clone()))
        .and(upgrade)
        .map(websocket);
    let sse = warp::path!("api" / "events")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth(state))
        .map(events);
    ws.or(sse).unify().boxed()
}

/// Checks the token before the upgrade; a bad one is 401 and no socket.
#[utoipa::path(get, path = "/ws", tag = "realtime",
    description = "WebSocket of JSON events (`match_found`, `match_decided`, ...); the token \
                   goes in `Authorization` or `?token=`. Clients may send `{\"type\":\"ping\"}`.",
    params(("token" = Option<String>, Query, description = "The access token, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Not an upgrade request")))]
pub fn websocket(state: AppState, auth: ApiResult<AuthUser>, ws: Option<Ws>) -> Response {
    let user = match auth {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let Some(ws) = ws else {
        return ApiError::validation("connection: a WebSocket upgrade is required").into_response();
    };
    // listening starts before the handshake completes: no event falls in between
    let subscription = state.hub.subscribe_websocket(user.id);
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(state, user, subscription, socket))
        .into_response()
}

/// Largest `payload` of a `signal` message.
pub const MAX_SIGNAL_PAYLOAD: usize = 16 * 1024;

#[derive(Deserialize)]
struct ClientMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    call_session_id: Option<&'a str>,
    #[serde(borrow)]
    payload: Option<&'a serde_json::value::RawValue>,
}

async fn session(state: AppState, user: AuthUser, mut events: Subscription, socket: WebSocket) {
    state.metrics.websockets.inc();
    let (mut tx, mut rx) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    if tx.send(Message::text(event.json.as_ref())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            message = rx.next() => match message {
                Some(Ok(m)) if m.is_text() => {
                    let reply = answer(&state, &user, m.to_str().unwrap_or_default()).await;
                    if let Some(reply) = reply
                        && tx.send(Message::text(reply.to_string())).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = ping.tick() => {
                if tx.send(Message::ping(Vec::new())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = tx.close().await;
    state.metrics.websockets.dec();
}

/// What the server answers to a client's message (nothing to a relayed signal).
async fn answer(state: &AppState, user: &AuthUser, text: &str) -> Option<serde_json::Value> {
    let error = |message: &str| Some(json!({"type": "error", "error": message}));
    let Ok(message) = serde_json::from_str::<ClientMessage>(text) else {
        return error("messages are JSON objects with a type");
    };
    match message.kind {
        "ping" => Some(json!({"type": "pong"})),
        "signal" => {
            let (Some(session), Some(payload)) = (message.call_session_id, message.payload) else {
                return error("a signal needs call_session_id and payload");
            };
            if payload.get().len() > MAX_SIGNAL_PAYLOAD {
                return error("signal payload too large");
            }
            match crate::calls::session::relay_signal(state, user.id, session, payload).await {
                Ok(()) => None,
                Err(e) => Some(
                    json!({"type": "error", "error": e.body()["error"], "call_session_id": session}),
                ),
            }
        }
        other => error(&format!("unsupported message type: {other}")),
    }
}

#[utoipa::path(get, path = "/api/events", tag = "realtime",
    description = "Server-sent events: the same JSON events as /ws, with `event:` set to their type.",
    params(("token" = Option<String>, Query, description = "The access token, for clients that cannot set headers")),
    responses(
        (status = 200, description = "text/event-stream"),
        (status = 401, body = crate::error::ErrorBody)))]
pub fn events(state: AppState, auth: ApiResult<AuthUser>) -> Response {
    let user = match auth {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let subscription = state.hub.subscribe(user.id);
    let stream = futures_util::stream::unfold(subscription, |mut sub| async move {
        let event = sub.recv().await?;
        let sse = warp::sse::Event::default()
            .event(event.kind.clone())
            .data(event.json.as_ref());
        Some((Ok::<_, Infallible>(sse), sub))
    });
    warp::sse::reply(
        warp::sse::keep_alive()
            .interval(Duration::from_secs(15))
            .stream(stream),
    )
    .into_response()
}
