//! Phone accounts of the Talk document: `register`, for a phone verified
//! by SMS in the last 30 minutes. (Phone login shares `/api/auth/login`.)

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::{TokenPair, password, validate};
use crate::error::{ApiError, ApiResult, TOO_MANY_REQUESTS, is_unique_violation};
use crate::http::body::Body;
use crate::http::created;
use crate::ratelimit;
use crate::sms::{codes, parse_phone};
use crate::state::AppState;
use crate::users::store as users;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    phone_number: String,
    /// 8–128 characters.
    password: String,
    /// 1–20 characters.
    nickname: String,
    age: Option<i32>,
    gender: Option<validate::Gender>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    token: String,
    #[serde(flatten)]
    tokens: TokenPair,
    user: RegisteredUser,
    message: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisteredUser {
    id: i64,
    nickname: String,
    phone_number: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn phone_taken() -> ApiError {
    ApiError::Document {
        status: StatusCode::CONFLICT,
        body: json!({"error": "이미 등록된 전화번호입니다.", "user_exists": true}),
    }
}

#[utoipa::path(post, path = "/api/auth/register", tag = "talk-auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = RegisterResponse),
        (status = 403, description = "Phone not verified in the last 30 minutes"),
        (status = 409, description = "Phone already registered (`user_exists: true`)"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody)))]
pub async fn register(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    let cfg = &state.cfg;
    let req: RegisterRequest = body.json().await?;
    // counted before the phone is looked up: 409 must not be a free oracle of who has an account
    let limit = ratelimit::Limit {
        key: state.redis.keys.rate("register_ip", &ip.to_string()),
        window_sec: 3600,
        max: cfg.quotas.registers_per_ip_hour,
        message: TOO_MANY_REQUESTS,
    };
    ratelimit::spend(&state.redis, limit).await?;
    let phone = parse_phone(&req.phone_number)?;
    let nickname = req.nickname.trim().to_owned();
    let mut problems = Vec::new();
    problems.extend(validate::password(&req.password).err());
    problems.extend(validate::nickname(&nickname).err());
    if let Some(age) = req.age {
        problems.extend(validate::age(age, cfg.min_age).err());
    }
    validate::all(problems)?;

    if users::by_phone(&state.db, &phone).await?.is_some() {
        return Err(phone_taken());
    }
    if !codes::is_verified(&state, &phone).await? {
        return Err(ApiError::Document {
            status: StatusCode::FORBIDDEN,
            body: json!({
                "error": "인증이 완료되지 않은 전화번호입니다. 인증 코드를 확인해주세요.",
                "verification_required": true,
                "verification_status": {"verified": false, "can_resend": true},
            }),
        });
    }
    super::account::take_signup_slot(&state, ip).await?;

    let hash = password::hash(&state.heavy, req.password).await?;
    let user = users::insert(
        &state.db,
        &users::NewUser {
            username: None,
            phone_number: Some(&phone),
            nickname: Some(&nickname),
            password_hash: &hash,
            age: req.age,
            gender: req.gender.map(validate::Gender::as_str),
            profile_image: None,
        },
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e, users::PHONE_TAKEN) {
            phone_taken()
        } else {
            e.into()
        }
    })?;
    codes::consume_verification(&state, &phone).await?;
    let tokens = state.tokens.start_session(&state.redis, user.id).await?;
    created(&RegisterResponse {
        token: tokens.access.clone(),
        tokens,
        user: RegisteredUser {
            id: user.id,
            nickname,
            phone_number: phone,
            created_at: user.created_at,
        },
        message: "회원가입에 성공했습니다.",
    })
}
