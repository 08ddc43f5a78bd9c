//! Calls (matching document section 4): start, end, ICE servers; the call
//! sessions themselves are in `session`, and WebRTC signaling rides the
//! WebSocket (`realtime`).

pub mod ice;
pub mod session;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::http::body::{Body, body};
use crate::http::{auth, detached, ok, with_state};
use crate::state::AppState;
use crate::tasks::every;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let st = || with_state(state.clone());
    let start = warp::path!("api" / "call" / "start")
        .and(warp::post())
        .and(st())
        .and(auth(state.clone()))
        .and(body())
        .then(|s, a, b| detached(start(s, a, b)));
    let end = warp::path!("api" / "call" / "end")
        .and(warp::post())
        .and(st())
        .and(auth(state.clone()))
        .and(body())
        .then(|s, a, b| detached(end(s, a, b)));
    let ice = warp::path!("api" / "call" / "ice-servers")
        .and(warp::get())
        .and(st())
        .and(auth(state))
        .then(|s, a| detached(ice_servers(s, a)));
    start.or(end).unify().or(ice).unify().boxed()
}

/// The reaper of idle calls and the heartbeats of this node's WebSockets.
pub fn spawn_tasks(state: AppState, stop: watch::Receiver<bool>) {
    let s = state.clone();
    every(Duration::from_secs(1), stop.clone(), move || {
        let s = s.clone();
        async move {
            if let Err(e) = session::reap(&s).await {
                tracing::warn!(error = %e, "call reaper failed");
            }
        }
    });
    let period = Duration::from_millis((state.cfg.calls.idle_timeout_sec * 1000 / 3).max(200));
    every(period, stop, move || {
        let s = state.clone();
        async move {
            let users = s.hub.local_websocket_users();
            if !users.is_empty()
                && let Err(e) = session::heartbeat(&s, &users).await
            {
                tracing::warn!(error = %e, "call heartbeat failed");
            }
        }
    });
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartRequest {
    match_id: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StartResponse {
    /// The same for both users of the match; at least 128 random bits.
    call_session_id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EndRequest {
    call_session_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndResponse {
    message: &'static str,
    #[serde(flatten)]
    call: session::Ended,
}

#[utoipa::path(post, path = "/api/call/start/", tag = "calls",
    security(("bearer" = [])),
    request_body = StartRequest,
    responses(
        (status = 200, body = StartResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not one of the match's users"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The match is not matched"),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn start(state: AppState, auth: ApiResult<AuthUser>, body: Body) -> ApiResult<Response> {
    let me = auth?;
    let req: StartRequest = body.json().await?;
    let call_session_id = session::start(&state, me.id, req.match_id).await?;
    ok(&StartResponse { call_session_id })
}

#[utoipa::path(post, path = "/api/call/end/", tag = "calls",
    security(("bearer" = [])),
    request_body = EndRequest,
    responses(
        (status = 200, body = EndResponse, description = "Ended (or ended already)"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn end(state: AppState, auth: ApiResult<AuthUser>, body: Body) -> ApiResult<Response> {
    let me = auth?;
    let req: EndRequest = body.json().await?;
    let call = session::end(&state, &req.call_session_id, session::Ender::User(me.id))
        .await?
        .ok_or(crate::error::ApiError::NotFound)?;
    ok(&EndResponse {
        message: "통화가 종료되었습니다.",
        call,
    })
}

#[utoipa::path(get, path = "/api/call/ice-servers/", tag = "calls",
    security(("bearer" = [])),
    responses((status = 200, body = ice::IceServers), (status = 401, body = crate::error::ErrorBody)))]
pub async fn ice_servers(state: AppState, auth: ApiResult<AuthUser>) -> ApiResult<Response> {
    let me = auth?;
    ok(&ice::servers(
        &state.cfg.calls,
        me.id,
        chrono::Utc::now().timestamp(),
    ))
}
