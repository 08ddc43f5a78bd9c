//! Calls (matching document section 4): start, end, ICE servers. WebRTC
//! signaling rides the WebSocket (`realtime`).

use warp::reply::Response;

use super::model::{EndRequest, EndResponse, StartRequest, StartResponse};
use super::{ice, store};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::ok;
use crate::messages;
use crate::moderation::suspension;
use crate::session::AuthUser;
use crate::state::AppState;

#[utoipa::path(post, path = "/api/call/start/", tag = "calls", operation_id = "start_call",
    security(("bearer" = [])),
    request_body = StartRequest,
    responses(
        (status = 200, body = StartResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not one of the match's users"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The match is not matched"),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn start(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: StartRequest = body.json().await?;
    suspension::ensure_active(&state, me.id).await?;
    let call_session_id = store::start(&state, me.id, req.match_id).await?;
    ok(&StartResponse { call_session_id })
}

#[utoipa::path(post, path = "/api/call/end/", tag = "calls", operation_id = "end_call",
    security(("bearer" = [])),
    request_body = EndRequest,
    responses(
        (status = 200, body = EndResponse, description = "Ended (or ended already)"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn end(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: EndRequest = body.json().await?;
    let call = store::end(&state, &req.call_session_id, store::Ender::User(me.id))
        .await?
        .ok_or(ApiError::NotFound)?;
    ok(&EndResponse {
        message: messages::CALL_ENDED,
        call,
    })
}

#[utoipa::path(get, path = "/api/call/ice-servers/", tag = "calls", operation_id = "ice_servers",
    security(("bearer" = [])),
    responses((status = 200, body = ice::IceServers), (status = 401, body = crate::error::ErrorBody)))]
pub async fn ice_servers(state: AppState, me: AuthUser) -> ApiResult<Response> {
    ok(&ice::servers(
        &state.cfg.calls,
        me.id,
        chrono::Utc::now().timestamp(),
    ))
}
