//! `/api/gem/balance/`, `/api/gem/charge/`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let balance = warp::path!("api" / "gem" / "balance")
        .and(warp::get())
        .and(signed_in(&state))
        .then(|lang, s, me| detached(lang, handlers::balance(s, me)));
    let charge = warp::path!("api" / "gem" / "charge")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::charge(s, me, b)));
    balance.or(charge).unify().boxed()
}
