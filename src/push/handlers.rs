//! Registering and unregistering a device's push token.

use warp::http::StatusCode;
use warp::reply::Response;

use super::model::{MAX_TOKEN_CHARS, RegisterToken, TokenResponse, UnregisterToken};
use super::store;
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, json_response, message};
use crate::messages;
use crate::session::AuthUser;
use crate::state::AppState;

fn valid_token(token: &str) -> ApiResult<&str> {
    let token = token.trim();
    if (1..=MAX_TOKEN_CHARS).contains(&token.chars().count()) {
        Ok(token)
    } else {
        Err(ApiError::validation(format!(
            "token: must be 1 to {MAX_TOKEN_CHARS} characters"
        )))
    }
}

#[utoipa::path(post, path = "/api/push/tokens", tag = "push", operation_id = "register_push_token",
    description = "Registers the device's token; idempotent: 201 when new (or moved from another \
                   account: a token belongs to one user), 200 when it was registered already. \
                   Events reach it while the user has no WebSocket/SSE open.",
    security(("bearer" = [])),
    request_body = RegisterToken,
    responses(
        (status = 201, body = TokenResponse),
        (status = 200, body = TokenResponse, description = "Registered already"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Unknown platform, empty or too long token")))]
pub async fn register(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: RegisterToken = body.json().await?;
    let token = valid_token(&req.token)?;
    let changed = store::register(&state.db, me.id, req.platform, token).await?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = TokenResponse {
        message: messages::PUSH_TOKEN_SAVED,
        platform: req.platform,
    };
    Ok(json_response(status, &body))
}

#[utoipa::path(delete, path = "/api/push/tokens", tag = "push", operation_id = "unregister_push_token",
    description = "Unregisters one of the caller's tokens; idempotent (200 whether or not it was registered).",
    security(("bearer" = [])),
    request_body = UnregisterToken,
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn unregister(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: UnregisterToken = body.json().await?;
    let token = valid_token(&req.token)?;
    store::unregister(&state.db, me.id, token).await?;
    message(messages::PUSH_TOKEN_REMOVED)
}
