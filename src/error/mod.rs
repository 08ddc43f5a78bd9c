//! The one error type of the API and its mapping to the contract's bodies.
//!
//! Every handler returns `Result<_, ApiError>`; `ApiError::into_response` is
//! the only place that decides a status code and an error body. It renders
//! the body itself, so this file imports nothing above the ground floor.

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::messages::{self, Text};

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `{"error":"Invalid token"}`: missing, malformed, expired or revoked token.
    #[error("invalid token")]
    InvalidToken,
    /// 401 with a document-specific message (wrong credentials).
    #[error("bad credentials")]
    BadCredentials(Text),
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
    /// 409 `{"error": msg}`: a taken username, a duplicate.
    #[error("conflict: {}", .0.code)]
    Conflict(Text),
    /// 413 `{"error":"Payload too large"}`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 402 `{"error": msg, "required": n, "balance": m}`: too few gems for a filtered match.
    #[error("not enough gems")]
    NotEnoughGems { required: i64, balance: i64 },
    /// 429 `{"error": msg, "wait_seconds": n}`, with `Retry-After: n`.
    #[error("rate limited ({}) for {wait_seconds}s", .text.code)]
    RateLimited { text: Text, wait_seconds: u64 },
    /// A body fixed by an API document: `{"error": text, ...fields}`.
    #[error("{status} {}", .text.code)]
    Document {
        status: StatusCode,
        text: Text,
        fields: Value,
    },
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

impl ApiError {
    pub fn validation(details: impl Into<String>) -> Self {
        ApiError::Validation(details.into())
    }

    /// 403 `{"error": "Account suspended", "until": <RFC 3339 or null>}` (SPEC: safety).
    pub fn suspended(until: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        ApiError::Document {
            status: StatusCode::FORBIDDEN,
            text: messages::SUSPENDED,
            fields: json!({ "until": until }),
        }
    }

    /// 409 `{"error": "이미 등록된 전화번호입니다.", "user_exists": true}` (Talk document).
    pub fn phone_taken() -> Self {
        ApiError::Document {
            status: StatusCode::CONFLICT,
            text: messages::PHONE_TAKEN,
            fields: json!({"user_exists": true}),
        }
    }

    /// 404 `{"error":"Resource not found","code":"route_not_found"}`: no route has the path.
    pub fn no_route() -> Self {
        ApiError::Document {
            status: StatusCode::NOT_FOUND,
            text: messages::NO_ROUTE,
            fields: Value::Null,
        }
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

    /// The catalogue entry of the error's message.
    pub fn text(&self) -> Text {
        match self {
            ApiError::InvalidToken => messages::INVALID_TOKEN,
            ApiError::BadCredentials(text)
            | ApiError::Conflict(text)
            | ApiError::RateLimited { text, .. }
            | ApiError::Document { text, .. } => *text,
            ApiError::Forbidden => messages::FORBIDDEN,
            ApiError::NotFound => messages::NOT_FOUND,
            ApiError::MethodNotAllowed => messages::METHOD_NOT_ALLOWED,
            ApiError::Validation(_) => messages::VALIDATION,
            ApiError::PayloadTooLarge => messages::PAYLOAD_TOO_LARGE,
            ApiError::NotEnoughGems { .. } => messages::NOT_ENOUGH_GEMS,
            ApiError::Unavailable(_) => messages::UNAVAILABLE,
            ApiError::Busy => messages::BUSY,
            ApiError::Internal(_) => messages::SERVER_ERROR,
        }
    }

    /// The stable name of the error (`docs/errors.md`), the same in every language.
    pub fn code(&self) -> &'static str {
        self.text().code
    }

    /// `{"error": message, "code": code, ...fields}`.
    pub fn body(&self) -> Value {
        let text = self.text();
        let mut body = json!({"error": text, "code": text.code});
        match self {
            ApiError::Validation(details) => body["details"] = json!(details),
            ApiError::NotEnoughGems { required, balance } => {
                body["required"] = json!(required);
                body["balance"] = json!(balance);
            }
            ApiError::RateLimited { wait_seconds, .. } => {
                body["wait_seconds"] = json!(wait_seconds);
            }
            ApiError::Document {
                fields: Value::Object(fields),
                ..
            } => {
                for (k, v) in fields {
                    body[k] = v.clone();
                }
            }
            _ => {}
        }
        body
    }

    /// Seconds a client should wait before trying again (`Retry-After`), for 429 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { wait_seconds, .. } => Some(*wait_seconds),
            ApiError::Busy => Some(1),
            // about the time a Redis or Postgres failover takes
            ApiError::Unavailable(_) => Some(5),
            ApiError::Document { status, .. } if *status == StatusCode::SERVICE_UNAVAILABLE => {
                Some(5)
            }
            _ => None,
        }
    }

    pub fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            _ => {}
        }
        let body = serde_json::to_string(&self.body()).expect("error bodies serialize");
        let mut res = Response::new(body.into());
        *res.status_mut() = self.status();
        let headers = res.headers_mut();
        headers.insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after() {
            headers.insert(warp::http::header::RETRY_AFTER, seconds.into());
        }
        res
    }
}

/// Unique constraints whose violation is a conflict the client can act on; any
/// other is `ALREADY_EXISTS`. (Names as Postgres reports them: `migrations/`.)
fn conflict(constraint: Option<&str>) -> ApiError {
    match constraint {
        Some("users_username_key") => ApiError::Conflict(messages::USERNAME_TAKEN),
        Some("users_phone_number_key") => ApiError::phone_taken(),
        _ => ApiError::Conflict(messages::ALREADY_EXISTS),
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
                "23505" => conflict(db.constraint()),
                // data exceptions (bad text, out of range) and check violations: the input
                "23514" => ApiError::validation("body: a value is out of range"),
                code if code.starts_with("22") => {
                    ApiError::validation("body: a value is not valid text or is out of range")
                }
                // what the request refers to is gone (a user deleted meanwhile)
                "23503" => ApiError::NotFound,
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
        if redis_unavailable(&e) {
            ApiError::Unavailable(format!("redis: {e}"))
        } else {
            ApiError::Internal(format!("redis: {e}"))
        }
    }
}

/// Redis cannot answer now but will (a lost connection, a failover or a
/// resharding under way, a full or busy server): a 503 the client retries,
/// not a bug. A command is never sent twice (`redis::Redis::connect`), so one
/// caught in a dropped connection or a redirection fails with fred's "Too many
/// failed write attempts" or "Failed to route command".
fn redis_unavailable(e: &fred::error::Error) -> bool {
    use fred::error::ErrorKind;
    const PASSING: [&str; 13] = [
        "Too many failed write attempts",
        "Failed to route command",
        "CLUSTERDOWN",
        "MOVED",
        "ASK",
        "TRYAGAIN",
        "READONLY",
        "LOADING",
        "MASTERDOWN",
        "NOREPLICAS",
        "BUSY",
        "NOSCRIPT",
        "OOM",
    ];
    match e.kind() {
        ErrorKind::IO
        | ErrorKind::Timeout
        | ErrorKind::Canceled
        | ErrorKind::Backpressure
        | ErrorKind::Routing
        | ErrorKind::Sentinel => true,
        // not fred's own "All keys must belong to the same cluster node": a key-naming bug
        ErrorKind::Cluster | ErrorKind::Unknown => {
            PASSING.iter().any(|p| e.details().starts_with(p))
        }
        _ => false,
    }
}

// The error bodies, for the OpenAPI document. `code` is one of the
// `ErrorCode` schema's values (`ops::openapi` points it there).

/// `{"error": ..., "code": ...}`: every error has at least these.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The message: the documents' text, or English with `Accept-Language: en`.
    #[schema(example = "Invalid token")]
    pub error: String,
    /// The error's stable name (`docs/errors.md`).
    #[schema(example = "invalid_token")]
    pub code: String,
}

/// `{"error":"Validation error","code":"validation_error","details": ...}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ValidationErrorBody {
    #[schema(example = "Validation error")]
    pub error: String,
    #[schema(example = "validation_error")]
    pub code: String,
    /// What is wrong, per field.
    #[schema(example = "age: must be at least 18")]
    pub details: String,
}

/// `{"error": ..., "code":"not_enough_gems", "required": n, "balance": m}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NotEnoughGemsBody {
    #[schema(example = "보석이 부족합니다.")]
    pub error: String,
    #[schema(example = "not_enough_gems")]
    pub code: String,
    pub required: i64,
    pub balance: i64,
}

/// `{"error": ..., "code": ..., "wait_seconds": n}`, with `Retry-After: n`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RateLimitedBody {
    #[schema(example = "잠시 후 다시 시도해주세요.")]
    pub error: String,
    /// Which limit: `login_rate_limited`, `sms_cooldown`, ... (`docs/errors.md`).
    #[schema(example = "login_rate_limited")]
    pub code: String,
    pub wait_seconds: u64,
}

#[cfg(test)]
mod tests;
