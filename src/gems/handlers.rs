//! `GET /api/gem/balance/` and `POST /api/gem/charge/`.

use warp::reply::Response;

use super::model::{BalanceResponse, ChargeRequest, Charged};
use super::{ledger, payments};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::ok;
use crate::session::AuthUser;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/gem/balance/", tag = "gems", operation_id = "gem_balance",
    security(("bearer" = [])),
    responses((status = 200, body = BalanceResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn balance(state: AppState, me: AuthUser) -> ApiResult<Response> {
    let gems = ledger::balance(&state.db, me.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    ok(&BalanceResponse { gems })
}

#[utoipa::path(post, path = "/api/gem/charge/", tag = "gems", operation_id = "charge_gems",
    security(("bearer" = [])),
    request_body = ChargeRequest,
    responses(
        (status = 200, body = Charged, description = "Credited, or credited before (the same answer)"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The token was used by another account"),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Invalid token"),
        (status = 503, body = crate::error::ErrorBody, description = "The verifier did not answer; nothing credited")))]
pub async fn charge(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: ChargeRequest = body.json().await?;
    let token = req.payment_token.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::validation(
            "payment_token: must be 1 to 512 characters",
        ));
    }
    let charged = payments::charge(&state.db, state.payments.as_ref(), me.id, token).await?;
    state.users_changed(&[me.id]).await;
    ok(&charged)
}
