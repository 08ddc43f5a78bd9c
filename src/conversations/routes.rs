//! `/api/conversations/...`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, query, signed_in};
use crate::media::handlers::fetch;
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let list = warp::path!("api" / "conversations")
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|lang, s, me, q| detached(lang, handlers::list(s, me, q)));
    let detail = warp::path!("api" / "conversations" / i64)
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|id, lang, s, me, q| detached(lang, handlers::detail(s, me, id, q)));
    let delete = warp::path!("api" / "conversations" / i64)
        .and(warp::delete())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::delete(s, me, id)));
    let send = warp::path!("api" / "conversations" / i64 / "send_message")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|id, lang, s, me, b| detached(lang, handlers::send_message(s, me, id, b)));
    let favorite = warp::path!("api" / "conversations" / i64 / "favorite")
        .and(warp::post())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::favorite(s, me, id)));
    let unfavorite = warp::path!("api" / "conversations" / i64 / "unfavorite")
        .and(warp::post())
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::unfavorite(s, me, id)));
    let voice = warp::path!("api" / "conversations" / i64 / "messages" / i64 / "voice")
        .and(warp::get())
        .and(signed_in(&state))
        .and(fetch())
        .then(|id, mid, lang, s, me, f| detached(lang, handlers::message_voice(s, me, id, mid, f)));
    list.or(detail)
        .unify()
        .or(delete)
        .unify()
        .or(send)
        .unify()
        .or(favorite)
        .unify()
        .or(unfavorite)
        .unify()
        .or(voice)
        .unify()
        .boxed()
}
