//! `/api/call/start/`, `/api/call/end/`, `/api/call/ice-servers/`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let start = warp::path!("api" / "call" / "start")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::start(s, me, b)));
    let end = warp::path!("api" / "call" / "end")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::end(s, me, b)));
    let ice = warp::path!("api" / "call" / "ice-servers")
        .and(warp::get())
        .and(signed_in(&state))
        .then(|lang, s, me| detached(lang, handlers::ice_servers(s, me)));
    start.or(end).unify().or(ice).unify().boxed()
}
