//! `/api/broadcasts/...`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, query, signed_in};
use crate::media::handlers::fetch;
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let list = warp::path!("api" / "broadcasts")
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|lang, s, me, q| detached(lang, handlers::list(s, me, q)));
    let create = warp::path!("api" / "broadcasts")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::create(s, me, b)));
    let detail = warp::path!("api" / "broadcasts" / i64)
        .and(warp::get())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::detail(s, me, id)));
    let voice = warp::path!("api" / "broadcasts" / i64 / "voice")
        .and(warp::get())
        .and(signed_in(&state))
        .and(fetch())
        .then(|id, lang, s, me, f| detached(lang, handlers::voice(s, me, id, f)));
    let reply = warp::path!("api" / "broadcasts" / i64 / "reply")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|id, lang, s, me, b| detached(lang, handlers::reply(s, me, id, b)));
    list.or(create)
        .unify()
        .or(detail)
        .unify()
        .or(voice)
        .unify()
        .or(reply)
        .unify()
        .boxed()
}
