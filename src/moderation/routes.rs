//! `/users/{id}/block|unblock|report`, also under `/api/users/...`, and `/api/appeals`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::{appeals, handlers};
use crate::http::body::body;
use crate::http::{detached, signed_in};
use crate::state::AppState;

/// `/users/{id}/<action>` and `/api/users/{id}/<action>`.
fn user_action(action: &'static str) -> BoxedFilter<(i64,)> {
    let plain = warp::path("users")
        .and(warp::path::param::<i64>())
        .and(warp::path(action));
    let api = warp::path("api").and(plain);
    plain
        .or(api)
        .unify()
        .and(warp::path::end())
        .and(warp::post())
        .boxed()
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let block = user_action("block")
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::block(s, me, id)));
    let unblock = user_action("unblock")
        .and(signed_in(&state))
        .then(|id, lang, s, me| detached(lang, handlers::unblock(s, me, id)));
    let report = user_action("report")
        .and(signed_in(&state))
        .and(body())
        .then(|id, lang, s, me, b| detached(lang, handlers::report(s, me, id, b)));
    let appeal = warp::path!("api" / "appeals")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, appeals::file(s, me, b)));
    block
        .or(unblock)
        .unify()
        .or(report)
        .unify()
        .or(appeal)
        .unify()
        .boxed()
}
