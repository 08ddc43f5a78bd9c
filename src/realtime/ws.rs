//! `GET /ws`: the WebSocket of JSON events, which also carries the client's
//! WebRTC signals, pings and re-authentication (`protocol`). It closes when
//! its session is revoked, when its token expires (unless renewed on the
//! socket), and when the peer stops answering pings.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::reply::{Reply, Response};

use super::expiry_instant;
use super::protocol::{AUTH, ClientMessage, PING, POOL_LEFT, SESSION_REVOKED, SIGNAL};
use crate::error::{ApiError, ApiResult};
use crate::messages;
use crate::presence::store::{self as presence, Streaming};
use crate::ratelimit::{self, Limit, MINUTE};
use crate::session::AuthUser;
use crate::state::AppState;

/// Largest message a client may send over the WebSocket.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// Checks the token before the upgrade; a bad one is 401 and no socket.
#[utoipa::path(get, path = "/ws", tag = "realtime", operation_id = "websocket",
    description = "WebSocket of JSON events (`match_found`, `match_decided`, ...); the token \
                   goes in `Authorization` or `?token=`. Clients may send `{\"type\":\"ping\"}`.",
    params(
        ("token" = Option<String>, Query, description = "The access token, for clients that cannot set headers"),
        ("last_event_id" = Option<String>, Query, description = "Resume: the events after this id (of the last 5 minutes) come first")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; then `Event`s, each with its `event_id`", body = crate::realtime::protocol::Event),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Not an upgrade request"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn websocket(
    state: AppState,
    user: AuthUser,
    ws: Option<Ws>,
    last_event_id: Option<String>,
) -> ApiResult<Response> {
    let Some(ws) = ws else {
        return Err(ApiError::validation(
            "connection: a WebSocket upgrade is required",
        ));
    };
    // listening starts before the handshake completes: no event falls in between
    let subscription = state
        .hub
        .resume(user.id, true, last_event_id.as_deref())
        .await?;
    let streaming = presence::arrive(&state, subscription).await;
    Ok(ws
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(state, user, streaming, socket))
        .into_response())
}

/// Largest `payload` of a `signal` message.
pub const MAX_SIGNAL_PAYLOAD: usize = 16 * 1024;

/// How often the server pings: often enough that a silent peer is noticed
/// within the pong timeout.
fn ping_period(pong_timeout: Duration) -> Duration {
    (pong_timeout / 3).clamp(Duration::from_millis(200), Duration::from_secs(20))
}

/// Close codes the server sends: the session ended (logout, refresh reuse,
/// token expired: log in or refresh and reconnect), or the peer went silent.
const CLOSE_SESSION_ENDED: u16 = 4001;
const CLOSE_NO_PONG: u16 = 4008;

async fn session(state: AppState, mut user: AuthUser, mut online: Streaming, socket: WebSocket) {
    let events = &mut online.events;
    state.metrics.websockets.inc();
    let (mut tx, mut rx) = socket.split();
    let pong_timeout = Duration::from_secs(state.cfg.ws_pong_timeout_sec.max(1));
    let mut ping = tokio::time::interval(ping_period(pong_timeout));
    let mut last_heard = tokio::time::Instant::now();
    let expiry = tokio::time::sleep_until(expiry_instant(user.expires_at));
    tokio::pin!(expiry);
    let close = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) if event.kind == SESSION_REVOKED => {
                    if event.session.as_deref() == Some(user.session.as_str()) {
                        break Some((CLOSE_SESSION_ENDED, "session revoked"));
                    }
                }
                Some(event) if event.kind == POOL_LEFT => {}
                Some(event) => {
                    if tx.send(Message::text(event.with_id())).await.is_err() {
                        break None;
                    }
                }
                None => break Some((1001, "server stopping")),
            },
            message = rx.next() => {
                last_heard = tokio::time::Instant::now();
                match message {
                    Some(Ok(m)) if m.is_text() => {
                        let message = ClientMessage::parse(m.to_str().unwrap_or_default());
                        let reply = match reauthenticate(&state, &user, message.as_ref()).await {
                            Some(Ok(renewed)) => {
                                expiry.as_mut().reset(expiry_instant(renewed.expires_at));
                                user = renewed;
                                Some(json!({"type": "authenticated", "expires_at": user.expires_at}))
                            }
                            Some(Err(e)) => Some(refusal(&e)),
                            None => answer(&state, &user, message).await,
                        };
                        if let Some(reply) = reply
                            && tx.send(Message::text(reply.to_string())).await.is_err()
                        {
                            break None;
                        }
                    }
                    Some(Ok(m)) if m.is_close() => break None,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break None,
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > pong_timeout {
                    break Some((CLOSE_NO_PONG, "no pong"));
                }
                if tx.send(Message::ping(Vec::new())).await.is_err() {
                    break None;
                }
            }
            _ = &mut expiry => break Some((CLOSE_SESSION_ENDED, "token expired")),
        }
    };
    if let Some((code, reason)) = close {
        let _ = tx.send(Message::close_with(code, reason)).await;
    }
    let _ = tx.close().await;
    state.metrics.websockets.dec();
}

/// A client's `{"type":"auth","token":...}`: a fresh access token of the same
/// user keeps the socket open past the first token's expiry. `None` for any
/// other message.
async fn reauthenticate(
    state: &AppState,
    user: &AuthUser,
    message: Option<&ClientMessage<'_>>,
) -> Option<ApiResult<AuthUser>> {
    let message = message?;
    if message.kind != AUTH {
        return None;
    }
    let token = message.token.unwrap_or_default();
    Some(match state.tokens.authenticate(&state.redis, token).await {
        Ok(renewed) if renewed.id == user.id => Ok(renewed),
        Ok(_) => Err(ApiError::Forbidden),
        Err(e) => Err(e),
    })
}

/// What the server answers to a client's message (`None`: not a JSON object
/// with a type; nothing to a relayed signal).
async fn answer(
    state: &AppState,
    user: &AuthUser,
    message: Option<ClientMessage<'_>>,
) -> Option<serde_json::Value> {
    let invalid = |details: &str| Some(refusal(&ApiError::validation(details)));
    let Some(message) = message else {
        return invalid("messages are JSON objects with a type");
    };
    match message.kind {
        PING => Some(json!({"type": "pong"})),
        SIGNAL => {
            let (Some(session), Some(payload)) = (message.call_session_id, message.payload) else {
                return invalid("a signal needs call_session_id and payload");
            };
            let relayed = async {
                if payload.get().len() > MAX_SIGNAL_PAYLOAD {
                    return Err(ApiError::PayloadTooLarge);
                }
                take_signal_quota(state, user.id).await?;
                crate::calls::store::relay_signal(state, user.id, session, payload).await
            };
            match relayed.await {
                Ok(()) => None,
                Err(e) => {
                    let mut body = refusal(&e);
                    body["call_session_id"] = json!(session);
                    Some(body)
                }
            }
        }
        other => invalid(&format!("unsupported message type: {other}")),
    }
}

/// A refused message as an `error` event: the body an HTTP request would get
/// (`error`, `code`, and their fields), typed.
fn refusal(e: &ApiError) -> serde_json::Value {
    let mut body = e.body();
    body["type"] = json!("error");
    body
}

/// One relayed signal of the user's `SIGNAL_MINUTE_LIMIT`.
async fn take_signal_quota(state: &AppState, uid: i64) -> ApiResult<()> {
    let limit = Limit {
        key: state.redis.keys.rate("signal", &uid.to_string()),
        window_sec: MINUTE,
        max: state.cfg.quotas.signals_per_minute,
        text: messages::SIGNAL_LIMITED,
    };
    ratelimit::spend(&state.redis, limit).await
}
