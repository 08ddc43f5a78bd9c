//! Gems: balances and the ledger (`ledger`), purchases (`payments`),
//! `GET /api/gem/balance/` and `POST /api/gem/charge/`.

pub mod ledger;
pub mod payments;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::http::body::{Body, body};
use crate::http::{auth, detached, ok, with_state};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let balance = warp::path!("api" / "gem" / "balance")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth(state.clone()))
        .then(|s, a| detached(balance(s, a)));
    let charge = warp::path!("api" / "gem" / "charge")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(auth(state))
        .and(body())
        .then(|s, a, b| detached(charge(s, a, b)));
    balance.or(charge).unify().boxed()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BalanceResponse {
    gems: i64,
}

#[utoipa::path(get, path = "/api/gem/balance/", tag = "gems",
    security(("bearer" = [])),
    responses((status = 200, body = BalanceResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn balance(state: AppState, auth: ApiResult<AuthUser>) -> ApiResult<Response> {
    let me = auth?;
    let gems = ledger::balance(&state.db, me.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    ok(&BalanceResponse { gems })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChargeRequest {
    /// From the app store or payment provider; `test_<gems>_<anything>` in development.
    payment_token: String,
}

#[utoipa::path(post, path = "/api/gem/charge/", tag = "gems",
    security(("bearer" = [])),
    request_body = ChargeRequest,
    responses(
        (status = 200, body = payments::Charged, description = "Credited, or credited before (the same answer)"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The token was used by another account"),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Invalid token"),
        (status = 503, body = crate::error::ErrorBody, description = "The verifier did not answer; nothing credited")))]
pub async fn charge(state: AppState, auth: ApiResult<AuthUser>, body: Body) -> ApiResult<Response> {
    let me = auth?;
    let req: ChargeRequest = body.json().await?;
    let token = req.payment_token.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::validation(
            "payment_token: must be 1 to 512 characters",
        ));
    }
    ok(&payments::charge(&state.db, state.payments.as_ref(), me.id, token).await?)
}
