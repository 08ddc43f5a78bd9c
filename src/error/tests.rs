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
    use fred::error::{Error, ErrorKind};
    let passing = [
        (ErrorKind::Unknown, "Too many failed write attempts."),
        (ErrorKind::Unknown, "Failed to route command."),
        (ErrorKind::Routing, "Failed to route command."),
        (
            ErrorKind::Unknown,
            "READONLY You can't write against a read only replica.",
        ),
        (
            ErrorKind::Unknown,
            "LOADING Redis is loading the dataset in memory",
        ),
        (
            ErrorKind::Unknown,
            "TRYAGAIN Multiple keys request during rehashing of slot",
        ),
        (ErrorKind::Cluster, "CLUSTERDOWN The cluster is down"),
        (ErrorKind::IO, "Connection closed."),
        (ErrorKind::Unknown, "BUSY Redis is busy running a script."),
        (
            ErrorKind::Unknown,
            "NOREPLICAS Not enough good replicas to write.",
        ),
    ];
    for (kind, details) in passing {
        let e = ApiError::from(Error::new(kind, details));
        assert!(matches!(e, ApiError::Unavailable(_)), "{details}");
    }
    let bugs = [
        (
            ErrorKind::Cluster,
            "All keys must belong to the same cluster node.",
        ),
        (
            ErrorKind::Unknown,
            "CROSSSLOT Keys in request don't hash to the same slot",
        ),
        (
            ErrorKind::Unknown,
            "ERR user_script:1: Script attempted to access nonexistent global variable",
        ),
        (
            ErrorKind::InvalidArgument,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (ErrorKind::Parse, "Could not convert to integer."),
    ];
    for (kind, details) in bugs {
        let e = ApiError::from(Error::new(kind, details));
        assert!(matches!(e, ApiError::Internal(_)), "{details}");
    }
}
