//! Gems: balances and the ledger (`ledger`), and `GET /api/gem/balance/`.

pub mod ledger;

use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::http::{auth, ok, respond, with_state};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("api" / "gem" / "balance")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth(state))
        .then(|s, a| async move { respond(balance(s, a).await) })
        .boxed()
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
