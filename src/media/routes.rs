//! `/media/profiles/{name}`: profile images, public.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::{detached, public};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("media" / "profiles" / String)
        .and(warp::get())
        .and(public(&state))
        .and(handlers::fetch())
        .then(|name, lang, s, f| detached(lang, handlers::profile_image(s, name, f)))
        .boxed()
}
