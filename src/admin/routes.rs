//! `/api/admin/...`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, query, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let reports = warp::path!("api" / "admin" / "reports")
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|lang, s, me, q| detached(lang, handlers::reports(s, me, q)));
    let appeals = warp::path!("api" / "admin" / "appeals")
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|lang, s, me, q| detached(lang, handlers::appeals(s, me, q)));
    let suspend = warp::path!("api" / "admin" / "users" / i64 / "suspend")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|id, lang, s, me, b| detached(lang, handlers::suspend(s, me, id, b)));
    let unsuspend = warp::path!("api" / "admin" / "users" / i64 / "unsuspend")
        .and(warp::post())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::unsuspend(s, me, id)));
    let dismiss = warp::path!("api" / "admin" / "reports" / i64 / "dismiss")
        .and(warp::post())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::dismiss(s, me, id)));
    let resolve = warp::path!("api" / "admin" / "appeals" / i64 / "resolve")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|id, lang, s, me, b| detached(lang, handlers::resolve_appeal(s, me, id, b)));
    reports
        .or(appeals)
        .unify()
        .or(suspend)
        .unify()
        .or(unsuspend)
        .unify()
        .or(dismiss)
        .unify()
        .or(resolve)
        .unify()
        .boxed()
}
