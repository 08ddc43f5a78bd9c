//! `/api/users/{id}/presence`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::{detached, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("api" / "users" / i64 / "presence")
        .and(warp::get())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::presence(s, me, id)))
        .boxed()
}
