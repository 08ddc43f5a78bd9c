//! Liveness, readiness, metrics and the OpenAPI document.

use std::time::Duration;

use fred::prelude::*;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::http::json_response;
use crate::state::AppState;

#[utoipa::path(get, path = "/healthz", tag = "ops", operation_id = "healthz", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "ops", operation_id = "readyz", responses(
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

#[utoipa::path(get, path = "/metrics", tag = "ops", operation_id = "metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(state: AppState) -> Response {
    let mut res = Response::new(state.metrics.render().into());
    res.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", operation_id = "openapi", responses((status = 200, description = "This document")))]
pub async fn openapi_json(document: bytes::Bytes) -> Response {
    let mut res = Response::new(document.into());
    res.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    res
}
