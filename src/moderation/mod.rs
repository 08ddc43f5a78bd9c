//! Block, unblock and report (Talk document), at `/users/{id}/...` and
//! `/api/users/{id}/...`. A block hides two users from each other in
//! matching, broadcasts and conversations, and stops messages both ways.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::http::body::{Body, body};
use crate::http::{auth, detached, json_response, ok, with_state};
use crate::state::AppState;

/// `/users/{id}/<action>` and `/api/users/{id}/<action>`.
fn user_action(action: &'static str) -> BoxedFilter<(i64,)> {
    let plain = warp::path("users")
        .and(warp::path::param::<i64>())
        .and(warp::path(action));
    let api = warp::path("api").and(plain);
    plain
        .or(api)
        .unify()
        .and(warp::path::end())
        .and(warp::post())
        .boxed()
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let st = || with_state(state.clone());
    let block = user_action("block")
        .and(st())
        .and(auth(state.clone()))
        .then(|id, s, a| detached(block(s, a, id)));
    let unblock = user_action("unblock")
        .and(st())
        .and(auth(state.clone()))
        .then(|id, s, a| detached(unblock(s, a, id)));
    let report = user_action("report")
        .and(st())
        .and(auth(state))
        .and(body())
        .then(|id, s, a, b| detached(report(s, a, id, b)));
    block.or(unblock).unify().or(report).unify().boxed()
}

/// True when either user has blocked the other.
pub async fn blocked_either_way(db: &PgPool, a: i64, b: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2)
                                              OR (blocker_id = $2 AND blocked_id = $1))",
    )
    .bind(a)
    .bind(b)
    .fetch_one(db)
    .await
}

/// The other user of an action: not oneself, and existing.
async fn target(state: &AppState, me: i64, id: i64, what: &str) -> ApiResult<()> {
    if me == id {
        return Err(ApiError::validation(format!(
            "user: you cannot {what} yourself"
        )));
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(id)
        .fetch_one(&state.db)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Block {
    id: i64,
    blocker_id: i64,
    blocked_id: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BlockResponse {
    message: &'static str,
    block: Block,
}

#[utoipa::path(post, path = "/users/{id}/block", tag = "moderation",
    description = "Also at `/api/users/{id}/block`. Idempotent: 201 the first time, 200 after.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 201, body = BlockResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Yourself")))]
pub async fn block(state: AppState, auth: ApiResult<AuthUser>, id: i64) -> ApiResult<Response> {
    let me = auth?;
    target(&state, me.id, id, "block").await?;
    // (xmax = 0): this statement inserted the row
    let (id, blocker_id, blocked_id, created_at, updated_at, inserted): (
        i64,
        i64,
        i64,
        DateTime<Utc>,
        DateTime<Utc>,
        bool,
    ) = sqlx::query_as(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
             ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET blocker_id = EXCLUDED.blocker_id
             RETURNING id, blocker_id, blocked_id, created_at, updated_at, (xmax = 0)",
    )
    .bind(me.id)
    .bind(id)
    .fetch_one(&state.db)
    .await?;
    let status = if inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = BlockResponse {
        message: "차단 완료",
        block: Block {
            id,
            blocker_id,
            blocked_id,
            created_at,
            updated_at,
        },
    };
    Ok(json_response(status, &body))
}

#[utoipa::path(post, path = "/users/{id}/unblock", tag = "moderation",
    description = "Also at `/api/users/{id}/unblock`. Idempotent.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = crate::auth::account::MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn unblock(state: AppState, auth: ApiResult<AuthUser>, id: i64) -> ApiResult<Response> {
    let me = auth?;
    target(&state, me.id, id, "unblock").await?;
    sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(me.id)
        .bind(id)
        .execute(&state.db)
        .await?;
    ok(&crate::auth::account::MessageResponse {
        message: "차단 해제 완료",
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReportRequest {
    /// 1–500 characters.
    reason: String,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Report {
    id: i64,
    reporter_id: i64,
    reported_id: i64,
    reason: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportResponse {
    message: &'static str,
    report: Report,
}

#[utoipa::path(post, path = "/users/{id}/report", tag = "moderation",
    description = "Also at `/api/users/{id}/report`.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ReportRequest,
    responses(
        (status = 201, body = ReportResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn report(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
    body: Body,
) -> ApiResult<Response> {
    let me = auth?;
    let req: ReportRequest = body.json().await?;
    let reason = req.reason.trim();
    if !(1..=500).contains(&reason.chars().count()) {
        return Err(ApiError::validation("reason: must be 1 to 500 characters"));
    }
    target(&state, me.id, id, "report").await?;
    let limit = crate::ratelimit::Limit {
        key: state.redis.keys.rate("report", &me.id.to_string()),
        window_sec: 86400,
        max: state.cfg.quotas.reports_per_day,
        message: crate::error::TOO_MANY_REQUESTS,
    };
    crate::ratelimit::spend(&state.redis, limit).await?;
    let report: Report = sqlx::query_as(
        "INSERT INTO reports (reporter_id, reported_id, reason) VALUES ($1, $2, $3)
         RETURNING id, reporter_id, reported_id, reason, created_at, updated_at",
    )
    .bind(me.id)
    .bind(id)
    .bind(reason)
    .fetch_one(&state.db)
    .await?;
    crate::http::created(&ReportResponse {
        message: "신고 완료",
        report,
    })
}
