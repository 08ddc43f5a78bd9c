//! The one error type of the API and its mapping to the contract's bodies.
//!
//! Every handler returns `Result<_, ApiError>`; `ApiError::into_response`
//! is the only place that decides a status code and an error body.

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `{"error":"Invalid token"}`: missing, malformed, expired or revoked token.
    #[error("invalid token")]
    InvalidToken,
    /// 401 with a document-specific message (wrong credentials).
    #[error("bad credentials")]
    BadCredentials(&'static str),
    /// 403 `{"error":"Unauthorized access"}`.
    #[error("forbidden")]
    Forbidden,
    /// 404 `{"error":"Resource not found"}`.
    #[error("not found")]
    NotFound,
    /// 405 `{"error":"Method not allowed"}`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 422 `{"error":"Validation error","details":...}`.
    #[error("validation: {0}")]
    Validation(String),
    /// 409 `{"error": msg}`: a taken username or phone, a duplicate.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 413 `{"error":"Payload too large"}`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 402 `{"error": msg, "required": n, "balance": m}`: too few gems for a filtered match.
    #[error("not enough gems")]
    NotEnoughGems { required: i64, balance: i64 },
    /// 429 `{"error": msg, "wait_seconds": n}`.
    #[error("rate limited for {wait_seconds}s")]
    RateLimited {
        message: &'static str,
        wait_seconds: u64,
    },
    /// A body fixed by an API document (the SMS flows), sent as it is.
    #[error("{status}")]
    Document { status: StatusCode, body: Value },
    /// 503 `{"error":"Service unavailable"}`: Redis, Postgres or a provider is unreachable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 503 `{"error":"Service unavailable"}`: too many heavy jobs (argon2, image
    /// decoding) are running and waiting already.
    #[error("busy")]
    Busy,
    /// 500 `{"error":"Server error"}`; the cause is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

pub const TOO_MANY_REQUESTS: &str = "잠시 후 다시 시도해주세요.";
pub const NOT_ENOUGH_GEMS: &str = "보석이 부족합니다.";
pub const ALREADY_EXISTS: &str = "이미 존재하는 항목입니다.";

impl ApiError {
    pub fn validation(details: impl Into<String>) -> Self {
        ApiError::Validation(details.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidToken | ApiError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotEnoughGems { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Document { status, .. } => *status,
            ApiError::Unavailable(_) | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> Value {
        match self {
            ApiError::InvalidToken => json!({"error": "Invalid token"}),
            ApiError::BadCredentials(msg) => json!({"error": msg}),
            ApiError::Forbidden => json!({"error": "Unauthorized access"}),
            ApiError::NotFound => json!({"error": "Resource not found"}),
            ApiError::MethodNotAllowed => json!({"error": "Method not allowed"}),
            ApiError::Validation(details) => {
                json!({"error": "Validation error", "details": details})
            }
            ApiError::Conflict(msg) => json!({"error": msg}),
            ApiError::PayloadTooLarge => json!({"error": "Payload too large"}),
            ApiError::NotEnoughGems { required, balance } => {
                json!({"error": NOT_ENOUGH_GEMS, "required": required, "balance": balance})
            }
            ApiError::RateLimited {
                message,
                wait_seconds,
            } => json!({"error": message, "wait_seconds": wait_seconds}),
            ApiError::Document { body, .. } => body.clone(),
            ApiError::Unavailable(_) | ApiError::Busy => json!({"error": "Service unavailable"}),
            ApiError::Internal(_) => json!({"error": "Server error"}),
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`), for 429 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { wait_seconds, .. } => Some(*wait_seconds),
            ApiError::Busy => Some(1),
            // about the time a Redis or Postgres failover takes
            ApiError::Unavailable(_) => Some(5),
            _ => None,
        }
    }

    pub fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            _ => {}
        }
        let mut res = crate::http::json_response(self.status(), &self.body());
        if let Some(seconds) = self.retry_after() {
            res.headers_mut()
                .insert(warp::http::header::RETRY_AFTER, seconds.into());
        }
        res
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => ApiError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                ApiError::Unavailable(format!("postgres: {e}"))
            }
            sqlx::Error::Database(db) => match db.code().as_deref().unwrap_or("") {
                // data exceptions (bad text, out of range) and check violations: the input
                "23514" => ApiError::validation("body: a value is out of range"),
                code if code.starts_with("22") => {
                    ApiError::validation("body: a value is not valid text or is out of range")
                }
                // what the request refers to is gone (a user deleted meanwhile)
                "23503" => ApiError::NotFound,
                "23505" => ApiError::Conflict(ALREADY_EXISTS),
                // cancelled by statement_timeout, ended by idle_in_transaction_session_timeout,
                // a serialization failure or deadlock, the server shutting down: try again
                "57014" | "25P03" | "40001" | "40P01" | "57P01" | "57P02" | "57P03" => {
                    ApiError::Unavailable(format!("postgres: {e}"))
                }
                _ => ApiError::Internal(format!("postgres: {e}")),
            },
            _ => ApiError::Internal(format!("postgres: {e}")),
        }
    }
}

impl From<fred::error::Error> for ApiError {
    fn from(e: fred::error::Error) -> Self {
        use fred::error::ErrorKind;
        match e.kind() {
            ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Backpressure => {
                ApiError::Unavailable(format!("redis: {e}"))
            }
            _ => ApiError::Internal(format!("redis: {e}")),
        }
    }
}

/// True when a Postgres error is the violation of the named unique constraint.
pub fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() && db.constraint().is_some_and(|c| c == constraint)
        }
        _ => false,
    }
}

/// `{"error": ...}`, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// `{"error":"Validation error","details": ...}`, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ValidationErrorBody {
    pub error: String,
    pub details: String,
}

/// `{"error": ..., "required": n, "balance": m}`, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NotEnoughGemsBody {
    pub error: String,
    pub required: i64,
    pub balance: i64,
}

/// `{"error": ..., "wait_seconds": n}`, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RateLimitedBody {
    pub error: String,
    pub wait_seconds: u64,
}
