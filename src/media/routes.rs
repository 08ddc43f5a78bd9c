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
        .then(|name, lang, s| detached(lang, handlers::profile_image(s, name)))
        .boxed()
}
