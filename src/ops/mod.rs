//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

pub mod metrics;
pub mod openapi;

use std::time::Duration;

use fred::prelude::*;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::http::{json_response, with_state};
use crate::state::AppState;

pub fn routes(state: AppState, openapi: bytes::Bytes) -> BoxedFilter<(Response,)> {
    let healthz = warp::path!("healthz").and(warp::get()).then(healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .then(metrics);
    let openapi = warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(move || openapi.clone())
        .then(openapi_json);
    healthz
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .or(openapi)
        .unify()
        .boxed()
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Redis and Postgres answer"),
    (status = 503, description = "One of them does not")))]
pub async fn readyz(state: AppState) -> Response {
    let limit = Duration::from_secs(2);
    let redis = tokio::time::timeout(limit, state.redis.pool.next().ping::<String>(None));
    let postgres = tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&state.db));
    let (redis, postgres) = tokio::join!(redis, postgres);
    let redis_ok = matches!(redis, Ok(Ok(_)));
    let postgres_ok = matches!(postgres, Ok(Ok(_)));
    let word = |ok: bool| if ok { "ok" } else { "down" };
    if redis_ok && postgres_ok {
        json_response(
            StatusCode::OK,
            &json!({"status": "ready", "redis": "ok", "postgres": "ok"}),
        )
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "Service unavailable", "redis": word(redis_ok), "postgres": word(postgres_ok)}),
        )
    }
}

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(state: AppState) -> Response {
    let mut res = Response::new(state.metrics.render().into());
    res.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, description = "This document")))]
pub async fn openapi_json(document: bytes::Bytes) -> Response {
    let mut res = Response::new(document.into());
    res.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    res
}
