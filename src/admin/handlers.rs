//! The admin endpoints: non-admins get 403.

use warp::reply::Response;

use super::model::{Appeal, ReportedUser, ResolveAppealRequest, StatusQuery, SuspendRequest};
use super::store;
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, message, ok};
use crate::matching::service;
use crate::messages;
use crate::session::AuthUser;
use crate::state::AppState;

/// The caller's id if they are an admin; 403 otherwise.
async fn admin(state: &AppState, me: &AuthUser) -> ApiResult<i64> {
    if store::is_admin(&state.db, me.id).await? {
        Ok(me.id)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// `open` (true, the default) or `resolved` (false).
fn open(query: ApiResult<StatusQuery>, resolved: &str) -> ApiResult<bool> {
    match query?.status.as_deref() {
        None | Some("open") => Ok(true),
        Some(s) if s == resolved => Ok(false),
        Some(_) => Err(ApiError::validation(format!(
            "status: must be open or {resolved}"
        ))),
    }
}

#[utoipa::path(get, path = "/api/admin/reports", tag = "admin", operation_id = "admin_reports",
    security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "`open` (default) or `resolved`")),
    responses(
        (status = 200, body = [ReportedUser], description = "Reports grouped by the reported user, most reporters first"),
        (status = 403, body = crate::error::ErrorBody, description = "Not an admin")))]
pub async fn reports(
    state: AppState,
    me: AuthUser,
    query: ApiResult<StatusQuery>,
) -> ApiResult<Response> {
    admin(&state, &me).await?;
    let open = open(query, "resolved")?;
    ok(&store::reports(&state.db, open).await?)
}

#[utoipa::path(get, path = "/api/admin/appeals", tag = "admin", operation_id = "admin_appeals",
    security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "`open` (default) or `resolved`")),
    responses(
        (status = 200, body = [Appeal]),
        (status = 403, body = crate::error::ErrorBody, description = "Not an admin")))]
pub async fn appeals(
    state: AppState,
    me: AuthUser,
    query: ApiResult<StatusQuery>,
) -> ApiResult<Response> {
    admin(&state, &me).await?;
    let open = open(query, "resolved")?;
    ok(&store::appeals(&state.db, open).await?)
}

#[utoipa::path(post, path = "/api/admin/users/{id}/suspend", tag = "admin", operation_id = "admin_suspend",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = SuspendRequest,
    responses(
        (status = 200, body = MessageResponse),
        (status = 403, body = crate::error::ErrorBody, description = "Not an admin"),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn suspend(state: AppState, me: AuthUser, id: i64, body: Body) -> ApiResult<Response> {
    let admin = admin(&state, &me).await?;
    let req: SuspendRequest = body.json().await?;
    let reason = req.reason.trim();
    if !(1..=500).contains(&reason.chars().count()) {
        return Err(ApiError::validation("reason: must be 1 to 500 characters"));
    }
    let until = match req.days {
        None => None,
        Some(days @ 1..=3650) => Some(chrono::Utc::now() + chrono::Duration::days(days)),
        Some(_) => return Err(ApiError::validation("days: must be 1 to 3650, or null")),
    };
    if !store::suspend(&state.db, admin, id, until, reason).await? {
        return Err(ApiError::NotFound);
    }
    service::leave_matching(&state, id).await?;
    message(messages::USER_SUSPENDED)
}

#[utoipa::path(post, path = "/api/admin/users/{id}/unsuspend", tag = "admin", operation_id = "admin_unsuspend",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 403, body = crate::error::ErrorBody, description = "Not an admin"),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn unsuspend(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    let admin = admin(&state, &me).await?;
    if !store::unsuspend(&state.db, admin, id).await? {
        return Err(ApiError::NotFound);
    }
    state.users_changed(&[id]).await;
    message(messages::USER_UNSUSPENDED)
}

#[utoipa::path(post, path = "/api/admin/reports/{id}/dismiss", tag = "admin", operation_id = "admin_dismiss_report",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 403, body = crate::error::ErrorBody, description = "Not an admin"),
        (status = 404, body = crate::error::ErrorBody, description = "No open report of this id")))]
pub async fn dismiss(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    let admin = admin(&state, &me).await?;
    if !store::dismiss(&state.db, admin, id).await? {
        return Err(ApiError::NotFound);
    }
    message(messages::REPORT_DISMISSED)
}

#[utoipa::path(post, path = "/api/admin/appeals/{id}/resolve", tag = "admin", operation_id = "admin_resolve_appeal",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ResolveAppealRequest,
    responses(
        (status = 200, body = MessageResponse),
        (status = 403, body = crate::error::ErrorBody, description = "Not an admin"),
        (status = 404, body = crate::error::ErrorBody, description = "No open appeal of this id")))]
pub async fn resolve_appeal(
    state: AppState,
    me: AuthUser,
    id: i64,
    body: Body,
) -> ApiResult<Response> {
    let admin = admin(&state, &me).await?;
    let req: ResolveAppealRequest = body.json().await?;
    let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 1000) {
        return Err(ApiError::validation("note: at most 1000 characters"));
    }
    let Some(uid) = store::resolve_appeal(&state.db, admin, id, req.accept, note).await? else {
        return Err(ApiError::NotFound);
    };
    state.users_changed(&[uid]).await;
    message(messages::APPEAL_RESOLVED)
}
