//! `GET /api/events`: server-sent events, the same JSON events as `/ws`,
//! with `event:` set to their type. The stream ends when its session is
//! revoked or its token expires; the client reconnects with a fresh token.

use std::convert::Infallible;
use std::time::Duration;

use warp::reply::{Reply, Response};

use super::expiry_instant;
use super::protocol::{POOL_LEFT, SESSION_REVOKED};
use crate::error::ApiResult;
use crate::session::AuthUser;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/events", tag = "realtime", operation_id = "events",
    description = "Server-sent events: the same JSON events as /ws, with `event:` set to their \
                   type and `id:` to their id. A client that reconnects with `Last-Event-ID` \
                   first gets the events it missed in the last 5 minutes, in order, each once.",
    params(
        ("token" = Option<String>, Query, description = "The access token, for clients that cannot set headers"),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received")),
    responses(
        (status = 200, description = "text/event-stream of `Event`s", body = crate::realtime::protocol::Event),
        (status = 401, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn events(
    state: AppState,
    user: AuthUser,
    last_event_id: Option<String>,
) -> ApiResult<Response> {
    let subscription = state
        .hub
        .resume(user.id, false, last_event_id.as_deref())
        .await?;
    // the stream ends when the token expires or its session is revoked;
    // the client reconnects with a fresh token
    let expiry = expiry_instant(user.expires_at);
    // online while the stream lives
    let streaming = crate::presence::store::arrive(&state, subscription).await;
    let stream = futures_util::stream::unfold(streaming, move |mut streaming| {
        let session = user.session.clone();
        async move {
            loop {
                let event = tokio::time::timeout_at(expiry, streaming.events.recv())
                    .await
                    .ok()??;
                if event.kind == SESSION_REVOKED {
                    if event.session.as_deref() == Some(session.as_str()) {
                        return None;
                    }
                    continue;
                }
                if event.kind == POOL_LEFT {
                    continue;
                }
                let mut sse = warp::sse::Event::default()
                    .event(event.kind.clone())
                    .data(event.json.as_ref());
                if !event.id.is_empty() {
                    sse = sse.id(event.id.clone());
                }
                return Some((Ok::<_, Infallible>(sse), streaming));
            }
        }
    });
    Ok(warp::sse::reply(
        warp::sse::keep_alive()
            .interval(Duration::from_secs(15))
            .stream(stream),
    )
    .into_response())
}
