//! `/api/user/profile/` and `/api/user/`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{detached, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let path = warp::path!("api" / "user" / "profile");
    let get = path
        .and(warp::get())
        .and(signed_in(&state))
        .then(|lang, s, me| detached(lang, handlers::get_profile(s, me)));
    let put = path
        .and(warp::put())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::update_profile(s, me, b)));
    let delete = warp::path!("api" / "user")
        .and(warp::delete())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::delete_account(s, me, b)));
    get.or(put).unify().or(delete).unify().boxed()
}
