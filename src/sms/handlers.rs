//! The Talk document's verification endpoints: `request_code`,
//! `resend_code`, `verify_code`, with the document's bodies.

use std::net::IpAddr;

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::model::{PhoneRequest, VerifyRequest};
use super::phone::parse_phone;
use super::store::{self, Attempt};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::ok;
use crate::messages::{self, Text};
use crate::state::AppState;
use crate::users::store as users;

#[utoipa::path(post, path = "/api/auth/request_code", tag = "talk-auth", operation_id = "request_code",
    request_body = PhoneRequest,
    responses(
        (status = 200, description = "Code sent; `code` and `note` only in development"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody),
        (status = 503, body = crate::error::ErrorBody, description = "SMS provider unreachable")))]
pub async fn request_code(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    send_code(state, ip, body, messages::CODE_SENT).await
}

#[utoipa::path(post, path = "/api/auth/resend_code", tag = "talk-auth", operation_id = "resend_code",
    request_body = PhoneRequest,
    responses(
        (status = 200, description = "Code sent again; the previous code stops working"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody, description = "Cooldown or daily limit"),
        (status = 503, body = crate::error::ErrorBody, description = "SMS provider unreachable")))]
pub async fn resend_code(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    send_code(state, ip, body, messages::CODE_RESENT).await
}

async fn send_code(state: AppState, ip: IpAddr, body: Body, message: Text) -> ApiResult<Response> {
    let req: PhoneRequest = body.json().await?;
    let phone = parse_phone(&req.phone_number)?;
    let issued = store::issue(&state, &phone, ip).await?;
    let development = !state.cfg.is_production();
    let mut body = json!({
        "message": message,
        "expires_at": issued.expires_at,
        "development_mode": development,
    });
    if development {
        body["code"] = json!(issued.code);
        body["note"] = json!(messages::DEV_CODE_NOTE);
    }
    ok(&body)
}

#[utoipa::path(post, path = "/api/auth/verify_code", tag = "talk-auth", operation_id = "verify_code",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Verified; `user` is the existing account or null"),
        (status = 400, description = "Code mismatch (`remaining_attempts`) or no live code"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, description = "Attempts exhausted (`can_resend: true`)")))]
pub async fn verify_code(state: AppState, body: Body) -> ApiResult<Response> {
    let req: VerifyRequest = body.json().await?;
    let phone = parse_phone(&req.phone_number)?;
    let code = req.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation("code: must be 6 digits"));
    }
    match store::verify(&state, &phone, code).await? {
        Attempt::Verified { at } => {
            let user = users::by_phone(&state.db, &phone).await?;
            ok(&json!({
                "message": messages::CODE_VERIFIED,
                "user_exists": user.is_some(),
                "can_proceed_to_register": user.is_none(),
                "user": user.map(|u| json!({"id": u.id, "nickname": u.shown_nickname})),
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
            let remaining = (state.cfg.sms_max_attempts - attempt).max(0);
            Err(ApiError::Document {
                status: StatusCode::BAD_REQUEST,
                text: messages::CODE_MISMATCH,
                fields: json!({
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
            text: messages::CODE_ATTEMPTS_EXCEEDED,
            fields: json!({
                "verification_status": {
                    "verified": false,
                    "attempt_count": attempts,
                    "max_attempts": state.cfg.sms_max_attempts,
                    "can_resend": true,
                    "phone_number": phone,
                },
            }),
        }),
        Attempt::Missing => Err(ApiError::Document {
            status: StatusCode::BAD_REQUEST,
            text: messages::CODE_EXPIRED,
            fields: json!({
                "verification_status": {
                    "verified": false,
                    "can_resend": true,
                    "phone_number": phone,
                },
            }),
        }),
    }
}
