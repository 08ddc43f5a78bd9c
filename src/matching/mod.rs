//! Random matching (matching document sections 2 and 3): settings, the pool,
//! decisions. The pool lives in Redis and changes only through the scripts
//! of `lua/matching/` (see `engine` and docs/matching.md).

pub mod engine;
pub mod handlers;
pub mod ids;
pub mod model;
pub mod service;
pub mod store;
pub mod tasks;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::http::body::body;
use crate::http::{auth, detached, query, respond, with_state};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let st = || with_state(state.clone());
    let settings_path = warp::path!("api" / "match" / "settings");
    let get_settings = settings_path
        .and(warp::get())
        .and(st())
        .and(auth(state.clone()))
        .then(|s, a| detached(handlers::get_settings(s, a)));
    let save_settings = settings_path
        .and(warp::post())
        .and(st())
        .and(auth(state.clone()))
        .and(body())
        .then(|s, a, b| detached(handlers::save_settings(s, a, b)));
    let random = warp::path!("api" / "match" / "random")
        .and(warp::get())
        .and(st())
        .and(auth(state.clone()))
        .and(query())
        .then(|s, a, q| async move {
            // a long poll stops with its client; `random` detaches its writes itself
            respond(handlers::random(s, a, q).await)
        });
    let decision = warp::path!("api" / "match" / "decision")
        .and(warp::post())
        .and(st())
        .and(auth(state.clone()))
        .and(body())
        .then(|s, a, b| async move {
            // a decision is one script run; only its wait for the partner is abandoned
            respond(handlers::decision(s, a, b).await)
        });
    let cancel = warp::path!("api" / "match" / "cancel")
        .and(warp::post())
        .and(st())
        .and(auth(state))
        .then(|s, a| detached(handlers::cancel(s, a)));
    get_settings
        .or(save_settings)
        .unify()
        .or(random)
        .unify()
        .or(decision)
        .unify()
        .or(cancel)
        .unify()
        .boxed()
}
