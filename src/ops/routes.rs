//! `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json`, `/docs`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::with_state;
use crate::state::AppState;

pub fn routes(state: AppState, openapi: bytes::Bytes) -> BoxedFilter<(Response,)> {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .then(handlers::healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(handlers::readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .then(handlers::metrics);
    let openapi = warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(move || openapi.clone())
        .then(handlers::openapi_json);
    let docs = warp::path!("docs")
        .and(warp::get())
        .then(handlers::docs_page);
    healthz
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .or(openapi)
        .unify()
        .or(docs)
        .unify()
        .boxed()
}
