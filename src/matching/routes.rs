//! `/api/match/...`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, in_lang, query, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let settings_path = warp::path!("api" / "match" / "settings");
    let get_settings = settings_path
        .and(warp::get())
        .and(signed_in(&state))
        .then(|lang, s, me| detached(lang, handlers::get_settings(s, me)));
    let save_settings = settings_path
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::save_settings(s, me, b)));
    // a long poll stops with its client; `random` detaches its writes itself
    let random = warp::path!("api" / "match" / "random")
        .and(warp::get())
        .and(signed_in(&state))
        .and(query())
        .then(|lang, s, me, q| in_lang(lang, handlers::random(s, me, q)));
    // a decision is one script run; only its wait for the partner is abandoned
    let decision = warp::path!("api" / "match" / "decision")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| in_lang(lang, handlers::decision(s, me, b)));
    let status = warp::path!("api" / "match" / "status")
        .and(warp::get())
        .and(signed_in(&state))
        .then(|lang, s, me| in_lang(lang, handlers::status(s, me)));
    let cancel = warp::path!("api" / "match" / "cancel")
        .and(warp::post())
        .and(signed_in(&state))
        .then(|lang, s, me| detached(lang, handlers::cancel(s, me)));
    get_settings
        .or(save_settings)
        .unify()
        .or(random)
        .unify()
        .or(decision)
        .unify()
        .or(status)
        .unify()
        .or(cancel)
        .unify()
        .boxed()
}
