//! `GET /api/users/{id}/presence`.

use warp::reply::Response;

use super::store;
use crate::error::{ApiError, ApiResult};
use crate::http::ok;
use crate::session::AuthUser;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/users/{id}/presence", tag = "presence", operation_id = "user_presence",
    description = "Whether the user is online (a WebSocket or SSE stream open on any node), in a \
                   call, and when last seen. Only for a user the caller shares a conversation with \
                   (or the caller), never across a block.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = super::model::Presence),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "No conversation shared, or a block"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn presence(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    if id != me.id && !store::may_see(&state.db, me.id, id).await? {
        return Err(ApiError::Forbidden);
    }
    let in_call = crate::calls::store::in_call(&state, id).await?;
    ok(&store::presence(&state, id, in_call).await?)
}
