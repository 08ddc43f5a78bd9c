//! Block, unblock and report another user.

use warp::http::StatusCode;
use warp::reply::Response;

use super::model::{BlockResponse, ReportRequest, ReportResponse};
use super::{store, suspension};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, created, json_response, message};
use crate::messages;
use crate::ratelimit::{self, DAY, Limit};
use crate::session::AuthUser;
use crate::state::AppState;

/// The other user of an action: not oneself, and existing.
async fn target(state: &AppState, me: i64, id: i64, what: &str) -> ApiResult<()> {
    if me == id {
        return Err(ApiError::validation(format!(
            "user: you cannot {what} yourself"
        )));
    }
    if store::user_exists(&state.db, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

#[utoipa::path(post, path = "/users/{id}/block", tag = "moderation", operation_id = "block",
    description = "Also at `/api/users/{id}/block`. Idempotent: 201 the first time, 200 after.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 201, body = BlockResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Yourself")))]
pub async fn block(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    target(&state, me.id, id, "block").await?;
    let (block, inserted) = store::block(&state.db, me.id, id).await?;
    state.users_changed(&[me.id, id]).await;
    let status = if inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = BlockResponse {
        message: messages::BLOCKED,
        block,
    };
    Ok(json_response(status, &body))
}

#[utoipa::path(post, path = "/users/{id}/unblock", tag = "moderation", operation_id = "unblock",
    description = "Also at `/api/users/{id}/unblock`. Idempotent.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn unblock(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    target(&state, me.id, id, "unblock").await?;
    store::unblock(&state.db, me.id, id).await?;
    state.users_changed(&[me.id, id]).await;
    message(messages::UNBLOCKED)
}

#[utoipa::path(post, path = "/users/{id}/report", tag = "moderation", operation_id = "report",
    description = "Also at `/api/users/{id}/report`.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ReportRequest,
    responses(
        (status = 201, body = ReportResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody, description = "REPORT_DAILY_LIMIT")))]
pub async fn report(state: AppState, me: AuthUser, id: i64, body: Body) -> ApiResult<Response> {
    let req: ReportRequest = body.json().await?;
    let reason = req.reason.trim();
    if !(1..=500).contains(&reason.chars().count()) {
        return Err(ApiError::validation("reason: must be 1 to 500 characters"));
    }
    target(&state, me.id, id, "report").await?;
    let limit = Limit {
        key: state.redis.keys.rate("report", &me.id.to_string()),
        window_sec: DAY,
        max: state.cfg.quotas.reports_per_day,
        text: messages::REPORT_LIMITED,
    };
    ratelimit::spend(&state.redis, limit).await?;
    let report = store::report(&state.db, me.id, id, reason).await?;
    suspension::after_report(&state, id).await?;
    created(&ReportResponse {
        message: messages::REPORTED,
        report,
    })
}
