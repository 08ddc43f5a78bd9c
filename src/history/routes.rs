//! `/api/history/recent/`, `/api/history/rate/`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, query, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let recent = warp::path!("api" / "history" / "recent")
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|lang, s, me, q| detached(lang, handlers::recent(s, me, q)));
    let rate = warp::path!("api" / "history" / "rate")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::rate(s, me, b)));
    recent.or(rate).unify().boxed()
}
