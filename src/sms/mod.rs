//! SMS verification of the Talk document: `request_code`, `resend_code`,
//! `verify_code`, with the document's bodies and Korean messages.

pub mod codes;
pub mod phone;
pub mod provider;

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::error::{ApiError, ApiResult};
use crate::http::body::{Body, body};
use crate::http::{client_ip, detached, ok, with_state};
use crate::state::AppState;
use crate::users::store as users;
use codes::Attempt;

pub const INVALID_PHONE: &str = "전화번호 형식이 올바르지 않습니다";

/// A phone number from a request, normalised, or the document's 422.
pub fn parse_phone(raw: &str) -> ApiResult<String> {
    phone::normalize(raw).ok_or_else(|| ApiError::validation(INVALID_PHONE))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PhoneRequest {
    /// `01012345678`; hyphens, spaces and `+82` forms are accepted.
    pub phone_number: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    pub phone_number: String,
    /// The six digits received.
    pub code: String,
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let ip = client_ip(state.cfg.trust_forwarded_for);
    let request = warp::path!("api" / "auth" / "request_code")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(ip.clone())
        .and(body())
        .then(|s, ip, b| detached(request_code(s, ip, b)));
    let resend = warp::path!("api" / "auth" / "resend_code")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(ip)
        .and(body())
        .then(|s, ip, b| detached(resend_code(s, ip, b)));
    let verify = warp::path!("api" / "auth" / "verify_code")
        .and(warp::post())
        .and(with_state(state))
        .and(body())
        .then(|s, b| detached(verify_code(s, b)));
    request.or(resend).unify().or(verify).unify().boxed()
}

#[utoipa::path(post, path = "/api/auth/request_code", tag = "talk-auth",
    request_body = PhoneRequest,
    responses(
        (status = 200, description = "Code sent; `code` and `note` only in development"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody),
        (status = 503, body = crate::error::ErrorBody, description = "SMS provider unreachable")))]
async fn request_code(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    send_code(state, ip, body, "인증 코드가 발송되었습니다.").await
}

#[utoipa::path(post, path = "/api/auth/resend_code", tag = "talk-auth",
    request_body = PhoneRequest,
    responses(
        (status = 200, description = "Code sent again; the previous code stops working"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody, description = "Cooldown or daily limit"),
        (status = 503, body = crate::error::ErrorBody, description = "SMS provider unreachable")))]
async fn resend_code(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    send_code(state, ip, body, "인증 코드가 재발송되었습니다.").await
}

async fn send_code(state: AppState, ip: IpAddr, body: Body, message: &str) -> ApiResult<Response> {
    let req: PhoneRequest = body.json().await?;
    let phone = parse_phone(&req.phone_number)?;
    let issued = codes::issue(&state, &phone, ip).await?;
    let development = !state.cfg.is_production();
    let mut body = json!({
        "message": message,
        "expires_at": issued.expires_at,
        "development_mode": development,
    });
    if development {
        body["code"] = json!(issued.code);
        body["note"] = json!(
            "개발/스테이징 환경에서만 코드가 노출됩니다. 실제 앱에서는 이 코드를 입력해주세요."
        );
    }
    ok(&body)
}

#[utoipa::path(post, path = "/api/auth/verify_code", tag = "talk-auth",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Verified; `user` is the existing account or null"),
        (status = 400, description = "Code mismatch (`remaining_attempts`) or no live code"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, description = "Attempts exhausted (`can_resend: true`)")))]
async fn verify_code(state: AppState, body: Body) -> ApiResult<Response> {
    let req: VerifyRequest = body.json().await?;
    let phone = parse_phone(&req.phone_number)?;
    let code = req.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation("code: must be 6 digits"));
    }
    match codes::verify(&state, &phone, code).await? {
        Attempt::Verified { at } => {
            let user = users::by_phone(&state.db, &phone).await?;
            ok(&json!({
                "message": "인증에 성공했습니다.",
                "user_exists": user.is_some(),
                "can_proceed_to_register": user.is_none(),
                "user": user.map(|u| json!({"id": u.id, "nickname": u.display_nickname()})),
                "verification_status": {
                    "verified": true,
                    "verified_at": at,
                    "phone_number": phone,
                },
            }))
        }
        Attempt::Mismatch {
            attempt,
            expires_at,
        } => {
            let remaining = (codes::MAX_ATTEMPTS - attempt).max(0);
            Err(ApiError::Document {
                status: StatusCode::BAD_REQUEST,
                body: json!({
                    "error": "인증 코드가 일치하지 않습니다.",
                    "verification_status": {
                        "verified": false,
                        "attempt_count": attempt,
                        "remaining_attempts": remaining,
                        "can_resend": remaining == 0,
                        "expires_at": expires_at,
                        "phone_number": phone,
                    },
                }),
            })
        }
        Attempt::Exhausted { attempts } => Err(ApiError::Document {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({
                "error": "인증 시도 횟수를 초과했습니다. 새로운 인증 코드를 요청해주세요.",
                "verification_status": {
                    "verified": false,
                    "attempt_count": attempts,
                    "max_attempts": codes::MAX_ATTEMPTS,
                    "can_resend": true,
                    "phone_number": phone,
                },
            }),
        }),
        Attempt::Missing => Err(ApiError::Document {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "error": "인증 코드가 만료되었거나 존재하지 않습니다. 새로운 인증 코드를 요청해주세요.",
                "verification_status": {
                    "verified": false,
                    "can_resend": true,
                    "phone_number": phone,
                },
            }),
        }),
    }
}
