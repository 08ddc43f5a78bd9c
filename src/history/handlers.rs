//! Call history and ratings (matching document section 5).

use warp::reply::Response;

use super::model::{RateRequest, RecentCall};
use super::store;
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, Page, created, ok};
use crate::messages;
use crate::session::AuthUser;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/history/recent/", tag = "history", operation_id = "recent_calls",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, body = Vec<RecentCall>, description = "Newest first"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn recent(state: AppState, me: AuthUser, page: ApiResult<Page>) -> ApiResult<Response> {
    let page = page?;
    ok(&store::recent(&state.db, me.id, page.before, page.limit()?).await?)
}

#[utoipa::path(post, path = "/api/history/rate/", tag = "history", operation_id = "rate_call",
    security(("bearer" = [])),
    request_body = RateRequest,
    responses(
        (status = 201, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not a participant of the call"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Rated already"),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn rate(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: RateRequest = body.json().await?;
    let mut problems = Vec::new();
    if !(1..=5).contains(&req.rating) {
        problems.push("rating: must be 1 to 5".to_owned());
    }
    if req.comment.chars().count() > 500 {
        problems.push("comment: at most 500 characters".to_owned());
    }
    crate::auth::validate::all(problems)?;
    let rated = match store::participants(&state.db, req.call_id).await? {
        None => return Err(ApiError::NotFound),
        Some((a, b)) if a == me.id => b,
        Some((a, b)) if b == me.id => a,
        Some(_) => return Err(ApiError::Forbidden),
    };
    if !store::rate(
        &state.db,
        req.call_id,
        me.id,
        rated,
        req.rating,
        &req.comment,
    )
    .await?
    {
        return Err(ApiError::Conflict(messages::ALREADY_RATED));
    }
    state.users_changed(&[rated]).await;
    created(&MessageResponse {
        message: messages::RATED,
    })
}
