//! Username accounts of the matching document (signup, login) and the
//! session endpoints both documents share (refresh, logout).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use warp::reply::Response;

use super::tokens::{AuthUser, TokenPair};
use super::{password, validate};
use crate::error::{ApiError, ApiResult, TOO_MANY_REQUESTS, is_unique_violation};
use crate::http::body::Body;
use crate::http::{created, ok};
use crate::media::images::MAX_IMAGE_BYTES;
use crate::ratelimit;
use crate::state::AppState;
use crate::users::{profile, store as users};

pub const BAD_USERNAME_LOGIN: &str = "아이디 또는 비밀번호가 올바르지 않습니다.";
pub const BAD_PHONE_LOGIN: &str = "전화번호 또는 비밀번호가 올바르지 않습니다.";
pub const USERNAME_TAKEN: &str = "이미 사용 중인 아이디입니다.";

/// Multipart fields of `POST /api/auth/signup/`.
/// Describes the multipart form for OpenAPI; the handler reads the parts itself.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct SignupForm {
    /// 3–30 of `[A-Za-z0-9_.]`, unique regardless of case.
    username: String,
    /// 8–128 characters.
    password: String,
    /// `MIN_AGE`..100.
    age: i32,
    gender: validate::Gender,
    /// Optional JPEG/PNG/WebP, at most 5 MB.
    #[schema(value_type = Option<String>, format = Binary)]
    profile_image: Option<Vec<u8>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    message: &'static str,
    user_id: i64,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// Either document's login: `username` (matching) or `phone_number` (Talk).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    username: Option<String>,
    phone_number: Option<String>,
    password: String,
}

/// Both documents' login answers in one: `{access, refresh}` of the
/// matching document, `{token, user, message}` of the Talk document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    message: &'static str,
    token: String,
    #[serde(flatten)]
    tokens: TokenPair,
    user: LoginUser,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginUser {
    id: i64,
    nickname: String,
    username: String,
    phone_number: Option<String>,
    last_login_at: chrono::DateTime<chrono::Utc>,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    refresh: String,
}

/// `{access, refresh}` plus `token` (= access), which the Talk flows read.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RefreshResponse {
    token: String,
    #[serde(flatten)]
    tokens: TokenPair,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    pub message: &'static str,
}

#[utoipa::path(post, path = "/api/auth/signup/", tag = "auth",
    request_body(content = SignupForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = SignupResponse),
        (status = 409, body = crate::error::ErrorBody, description = "Username taken"),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody)))]
pub async fn signup(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    let cfg = &state.cfg;
    take_signup_slot(&state, ip).await?;

    let mut form = body.multipart(&["profile_image"], MAX_IMAGE_BYTES).await?;
    let field = |name: &str| form.text(name).unwrap_or_default().to_owned();
    let (username, password_text) = (field("username").trim().to_owned(), field("password"));
    let mut problems = Vec::new();
    problems.extend(validate::username(&username).err());
    problems.extend(validate::password(&password_text).err());
    let age = validate::age_text(&field("age"), cfg.min_age)
        .map_err(|e| problems.push(e))
        .ok();
    let gender = validate::gender_text(&field("gender"))
        .map_err(|e| problems.push(e))
        .ok();
    validate::all(problems)?;

    let image = match form.files.remove("profile_image") {
        Some(upload) if !upload.data.is_empty() => {
            Some(profile::store_image(&state, upload.data).await?)
        }
        _ => None,
    };
    let hash = password::hash(&state.heavy, password_text).await?;
    let inserted = users::insert(
        &state.db,
        &users::NewUser {
            username: Some(&username),
            phone_number: None,
            nickname: None,
            password_hash: &hash,
            age,
            gender: gender.map(validate::Gender::as_str),
            profile_image: image.as_deref(),
        },
    )
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(e) => {
            if let Some(key) = &image {
                profile::delete_image(&state, key).await;
            }
            return Err(if is_unique_violation(&e, users::USERNAME_TAKEN) {
                ApiError::Conflict(USERNAME_TAKEN)
            } else {
                e.into()
            });
        }
    };
    let tokens = state.tokens.start_session(&state.redis, user.id).await?;
    created(&SignupResponse {
        message: "회원가입이 완료되었습니다.",
        user_id: user.id,
        tokens,
    })
}

/// One account more from `ip` within `SIGNUP_IP_LIMIT` an hour, or 429.
pub async fn take_signup_slot(state: &AppState, ip: IpAddr) -> ApiResult<()> {
    let limit = ratelimit::Limit {
        key: state.redis.keys.rate("signup_ip", &ip.to_string()),
        window_sec: 3600,
        max: state.cfg.signup_ip_limit,
        message: TOO_MANY_REQUESTS,
    };
    // a signup that fails later still counts: it cost an argon2 hash
    ratelimit::spend(&state.redis, limit).await
}

/// A login attempt, counted as a failure of the account and of the address
/// *before* the password is checked, so that parallel wrong passwords can
/// never get past the limits. A success clears the account's failures and
/// gives the address its unit back.
pub struct LoginAttempt {
    account: ratelimit::Unit,
    ip: ratelimit::Unit,
}

impl LoginAttempt {
    pub async fn begin(state: &AppState, account: &str, ip: IpAddr) -> ApiResult<Self> {
        let (keys, cfg) = (&state.redis.keys, &state.cfg);
        let limit = |key: String, max: u64| ratelimit::Limit {
            key,
            window_sec: cfg.login_fail_window_sec,
            max,
            message: TOO_MANY_REQUESTS,
        };
        let account = ratelimit::take(
            &state.redis,
            limit(keys.rate("login_fail", account), cfg.login_fail_limit),
        )
        .await?;
        let ip_limit = limit(
            keys.rate("login_fail_ip", &ip.to_string()),
            cfg.login_ip_fail_limit,
        );
        match ratelimit::take(&state.redis, ip_limit).await {
            Ok(ip) => Ok(LoginAttempt { account, ip }),
            Err(e) => {
                account.give_back(&state.redis).await?;
                Err(e)
            }
        }
    }

    pub async fn succeeded(self, state: &AppState) -> ApiResult<()> {
        ratelimit::clear(&state.redis, self.account.key()).await?;
        self.ip.give_back(&state.redis).await
    }
}

#[utoipa::path(post, path = "/api/auth/login/", tag = "auth",
    description = "Username login (matching document) or phone login (Talk document, \
                   also at `/api/auth/login`), chosen by the field sent.",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, body = crate::error::ErrorBody, description = "Wrong username, phone or password"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody)))]
pub async fn login(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    let req: LoginRequest = body.json().await?;
    let (attempt, failure, user) = match (&req.phone_number, &req.username) {
        (Some(phone), _) => {
            let phone = crate::sms::parse_phone(phone)?;
            let attempt = LoginAttempt::begin(&state, &format!("phone:{phone}"), ip).await?;
            (
                attempt,
                BAD_PHONE_LOGIN,
                users::by_phone(&state.db, &phone).await?,
            )
        }
        (None, Some(username)) => {
            let username = username.trim();
            let account = format!("user:{}", username.to_lowercase());
            let attempt = LoginAttempt::begin(&state, &account, ip).await?;
            (
                attempt,
                BAD_USERNAME_LOGIN,
                users::by_username(&state.db, username).await?,
            )
        }
        (None, None) => return Err(ApiError::validation("username: required (or phone_number)")),
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify(&state.heavy, req.password, stored).await?;
    let Some(user) = user.filter(|_| matches) else {
        // the attempt was counted as a failure already
        return Err(ApiError::BadCredentials(failure));
    };
    attempt.succeeded(&state).await?;
    let last_login_at = users::touch_login(&state.db, user.id).await?;
    let tokens = state.tokens.start_session(&state.redis, user.id).await?;
    ok(&LoginResponse {
        message: "로그인에 성공했습니다.",
        token: tokens.access.clone(),
        tokens,
        user: LoginUser {
            id: user.id,
            nickname: user.display_nickname(),
            username: user.display_username(),
            phone_number: user.phone_number,
            last_login_at,
            created_at: user.created_at,
        },
    })
}

#[utoipa::path(post, path = "/api/auth/refresh/", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = RefreshResponse),
        (status = 401, body = crate::error::ErrorBody, description = "Invalid, expired, rotated or revoked")))]
pub async fn refresh(state: AppState, body: Body) -> ApiResult<Response> {
    let req: RefreshRequest = body.json().await?;
    let tokens = state.tokens.refresh(&state.redis, &req.refresh).await?;
    ok(&RefreshResponse {
        token: tokens.access.clone(),
        tokens,
    })
}

#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth",
    request_body = RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(state: AppState, auth: ApiResult<AuthUser>, body: Body) -> ApiResult<Response> {
    let user = auth?;
    let req: RefreshRequest = body.json().await?;
    state
        .tokens
        .logout(&state.redis, &user, &req.refresh)
        .await?;
    ok(&MessageResponse {
        message: "로그아웃되었습니다.",
    })
}
