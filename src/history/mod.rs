//! Call history and ratings (matching document section 5).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::http::body::{Body, body};
use crate::http::{Page, auth, created, detached, ok, query, with_state};
use crate::state::AppState;

pub const ALREADY_RATED: &str = "이미 평가한 통화입니다.";

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let recent = warp::path!("api" / "history" / "recent")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth(state.clone()))
        .and(query())
        .then(|s, a, q| detached(recent(s, a, q)));
    let rate = warp::path!("api" / "history" / "rate")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(auth(state))
        .and(body())
        .then(|s, a, b| detached(rate(s, a, b)));
    recent.or(rate).unify().boxed()
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecentCall {
    /// The partner's username (or nickname).
    username: String,
    /// When the call started.
    call_time: DateTime<Utc>,
    call_id: i64,
    partner_id: i64,
    duration_sec: i32,
}

#[utoipa::path(get, path = "/api/history/recent/", tag = "history",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, body = Vec<RecentCall>, description = "Newest first"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn recent(
    state: AppState,
    auth: ApiResult<AuthUser>,
    page: ApiResult<Page>,
) -> ApiResult<Response> {
    let me = auth?;
    let page = page?;
    let calls: Vec<RecentCall> = sqlx::query_as(
        "SELECT COALESCE(p.username, p.nickname, '') AS username, c.started_at AS call_time,
                c.id AS call_id, p.id AS partner_id, c.duration_sec
         FROM calls c
         JOIN users p ON p.id = CASE WHEN c.user_a = $1 THEN c.user_b ELSE c.user_a END
         WHERE (c.user_a = $1 OR c.user_b = $1) AND ($2::int8 IS NULL OR c.id < $2)
         ORDER BY c.id DESC
         LIMIT $3",
    )
    .bind(me.id)
    .bind(page.before)
    .bind(page.limit()?)
    .fetch_all(&state.db)
    .await?;
    ok(&calls)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RateRequest {
    call_id: i64,
    /// 1–5.
    rating: i32,
    /// At most 500 characters.
    #[serde(default)]
    comment: String,
}

#[utoipa::path(post, path = "/api/history/rate/", tag = "history",
    security(("bearer" = [])),
    request_body = RateRequest,
    responses(
        (status = 201, body = crate::auth::account::MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not a participant of the call"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Rated already"),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn rate(state: AppState, auth: ApiResult<AuthUser>, body: Body) -> ApiResult<Response> {
    let me = auth?;
    let req: RateRequest = body.json().await?;
    let mut problems = Vec::new();
    if !(1..=5).contains(&req.rating) {
        problems.push("rating: must be 1 to 5".to_owned());
    }
    if req.comment.chars().count() > 500 {
        problems.push("comment: at most 500 characters".to_owned());
    }
    crate::auth::validate::all(problems)?;
    let users: Option<(i64, i64)> =
        sqlx::query_as("SELECT user_a, user_b FROM calls WHERE id = $1")
            .bind(req.call_id)
            .fetch_optional(&state.db)
            .await?;
    let rated = match users.ok_or(ApiError::NotFound)? {
        (a, b) if a == me.id => b,
        (a, b) if b == me.id => a,
        _ => return Err(ApiError::Forbidden),
    };
    let inserted = sqlx::query(
        "INSERT INTO ratings (call_id, rater_id, rated_id, rating, comment) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (call_id, rater_id) DO NOTHING",
    )
    .bind(req.call_id)
    .bind(me.id)
    .bind(rated)
    .bind(req.rating as i16)
    .bind(&req.comment)
    .execute(&state.db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict(ALREADY_RATED));
    }
    created(&crate::auth::account::MessageResponse {
        message: "평가가 등록되었습니다.",
    })
}
