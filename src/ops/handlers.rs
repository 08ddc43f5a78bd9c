//! Liveness, readiness, metrics and the OpenAPI document.

use std::time::Duration;

use fred::prelude::*;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::error::ApiError;
use crate::http::json_response;
use crate::messages;
use crate::state::AppState;

#[utoipa::path(get, path = "/healthz", tag = "ops", operation_id = "healthz", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "ops", operation_id = "readyz", responses(
    (status = 200, description = "Redis and Postgres answer"),
    (status = 503, body = crate::error::ErrorBody, description = "One of them does not: \
        `{\"error\":\"Service unavailable\",\"code\":\"service_unavailable\",\"redis\":\"ok\"|\"down\",\"postgres\":...}`, with `Retry-After`")))]
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
        ApiError::Document {
            status: StatusCode::SERVICE_UNAVAILABLE,
            text: messages::UNAVAILABLE,
            fields: json!({"redis": word(redis_ok), "postgres": word(postgres_ok)}),
        }
        .into_response()
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

/// `GET /docs`: one self-contained page (its script and styles inline) that
/// fetches `/api/openapi.json` from this server and renders it.
const DOCS_PAGE: &str = include_str!("docs.html");

#[utoipa::path(get, path = "/docs", tag = "ops", operation_id = "docs_page",
    description = "The OpenAPI document rendered for a person: operations by tag, their \
                   parameters, bodies, responses and error codes, realtime events. A single \
                   HTML page; nothing is fetched from anywhere but this server.",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
pub async fn docs_page() -> Response {
    let mut res = Response::new(DOCS_PAGE.into());
    let headers = res.headers_mut();
    headers.insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        "cache-control",
        warp::http::HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        "x-content-type-options",
        warp::http::HeaderValue::from_static("nosniff"),
    );
    // the browser itself refuses anything from elsewhere
    headers.insert(
        "content-security-policy",
        warp::http::HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
        ),
    );
    res
}
