//! `/api/push/tokens`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let register = warp::path!("api" / "push" / "tokens")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::register(s, me, b)));
    let unregister = warp::path!("api" / "push" / "tokens")
        .and(warp::delete())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::unregister(s, me, b)));
    register.or(unregister).unify().boxed()
}
