//! `POST /api/appeals`: a suspended user asks for a review (one open appeal at a time).

use serde::{Deserialize, Serialize};
use warp::reply::Response;

use super::{store, suspension};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::created;
use crate::messages::{self, Text};
use crate::session::AuthUser;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AppealRequest {
    /// 1–1000 characters.
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AppealResponse {
    pub message: Text,
    pub appeal_id: i64,
}

#[utoipa::path(post, path = "/api/appeals", tag = "moderation", operation_id = "file_appeal",
    security(("bearer" = [])),
    request_body = AppealRequest,
    responses(
        (status = 201, body = AppealResponse),
        (status = 409, body = crate::error::ErrorBody, description = "Not suspended, or an appeal is open already"),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn file(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: AppealRequest = body.json().await?;
    let reason = req.reason.trim();
    if !(1..=1000).contains(&reason.chars().count()) {
        return Err(ApiError::validation("reason: must be 1 to 1000 characters"));
    }
    if suspension::current(&state.db, me.id).await?.is_none() {
        return Err(ApiError::Conflict(messages::NOT_SUSPENDED));
    }
    let appeal_id = store::file_appeal(&state.db, me.id, reason)
        .await?
        .ok_or(ApiError::Conflict(messages::APPEAL_OPEN))?;
    created(&AppealResponse {
        message: messages::APPEAL_FILED,
        appeal_id,
    })
}
