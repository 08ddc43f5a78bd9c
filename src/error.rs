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
mod tests {
    use super::*;
    use crate::messages;

    /// Status, `Retry-After` and body, as `into_response` sends them.
    fn rendered(e: ApiError) -> (StatusCode, Option<String>, Value) {
        let body = e.body();
        let res = e.into_response();
        let retry = res
            .headers()
            .get(warp::http::header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        (res.status(), retry, body)
    }

    #[test]
    fn every_body_carries_its_code_and_keeps_its_fields() {
        assert_eq!(
            rendered(ApiError::InvalidToken),
            (
                StatusCode::UNAUTHORIZED,
                None,
                json!({"error": "Invalid token", "code": "invalid_token"})
            )
        );
        assert_eq!(
            rendered(ApiError::validation("age: too young")).2,
            json!({"error": "Validation error", "code": "validation_error", "details": "age: too young"})
        );
        assert_eq!(
            rendered(ApiError::RateLimited {
                text: messages::LOGIN_LIMITED,
                wait_seconds: 7
            }),
            (
                StatusCode::TOO_MANY_REQUESTS,
                Some("7".to_owned()),
                json!({"error": "잠시 후 다시 시도해주세요.", "code": "login_rate_limited", "wait_seconds": 7})
            )
        );
        assert_eq!(
            rendered(ApiError::NotEnoughGems {
                required: 1,
                balance: 0
            })
            .2,
            json!({"error": "보석이 부족합니다.", "code": "not_enough_gems", "required": 1, "balance": 0})
        );
        assert_eq!(
            rendered(ApiError::phone_taken()).2,
            json!({"error": "이미 등록된 전화번호입니다.", "code": "phone_taken", "user_exists": true})
        );
    }

    #[test]
    fn every_503_says_when_to_come_back() {
        for e in [ApiError::Busy, ApiError::Unavailable("redis: gone".into())] {
            let (status, retry, body) = rendered(e);
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
            assert_eq!(body["error"], "Service unavailable");
        }
        assert_eq!(rendered(ApiError::Busy).2["code"], "server_busy");
        assert_eq!(
            rendered(ApiError::Internal("x".into())).2,
            json!({"error": "Server error", "code": "server_error"})
        );
    }

    #[test]
    fn every_error_code_is_in_the_catalogue() {
        let errors = [
            ApiError::InvalidToken,
            ApiError::BadCredentials(messages::BAD_PHONE_LOGIN),
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::validation("x"),
            ApiError::Conflict(messages::USERNAME_TAKEN),
            ApiError::PayloadTooLarge,
            ApiError::NotEnoughGems {
                required: 1,
                balance: 0,
            },
            ApiError::phone_taken(),
            ApiError::no_route(),
            ApiError::Unavailable(String::new()),
            ApiError::Busy,
            ApiError::Internal(String::new()),
        ];
        for e in errors {
            let entry = messages::ERRORS
                .iter()
                .find(|c| c.code() == e.code())
                .unwrap_or_else(|| panic!("{} is not in messages::ERRORS", e.code()));
            assert_eq!(entry.status, e.status().as_u16(), "{}", e.code());
        }
    }

    #[test]
    fn redis_errors_that_pass_are_503_and_the_rest_500() {
        let passing = [
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "Too many failed write attempts.",
            ),
            fred::error::Error::new(fred::error::ErrorKind::Unknown, "Failed to route command."),
            fred::error::Error::new(fred::error::ErrorKind::Routing, "Failed to route command."),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "READONLY You can't write against a read only replica.",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "LOADING Redis is loading the dataset in memory",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "TRYAGAIN Multiple keys request during rehashing of slot",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Cluster,
                "CLUSTERDOWN The cluster is down",
            ),
            fred::error::Error::new(fred::error::ErrorKind::IO, "Connection closed."),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "BUSY Redis is busy running a script.",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "NOREPLICAS Not enough good replicas to write.",
            ),
        ];
        for e in passing {
            assert!(
                matches!(ApiError::from(e.clone()), ApiError::Unavailable(_)),
                "{e}"
            );
        }
        let bugs = [
            fred::error::Error::new(
                fred::error::ErrorKind::Cluster,
                "All keys must belong to the same cluster node.",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "CROSSSLOT Keys in request don't hash to the same slot",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                "ERR user_script:1: Script attempted to access nonexistent global variable",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::InvalidArgument,
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            fred::error::Error::new(
                fred::error::ErrorKind::Parse,
                "Could not convert to integer.",
            ),
        ];
        for e in bugs {
            assert!(
                matches!(ApiError::from(e.clone()), ApiError::Internal(_)),
                "{e}"
            );
        }
    }
}
