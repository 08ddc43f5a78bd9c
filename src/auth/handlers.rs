//! The account endpoints: username signup and login (matching document),
//! phone register (Talk document; phone login shares `/api/auth/login`), and
//! the session endpoints both documents share (refresh, logout).

use std::net::IpAddr;

use warp::reply::Response;

use super::model::{
    LoginRequest, LoginResponse, LoginUser, RefreshRequest, RefreshResponse, RegisterRequest,
    RegisterResponse, RegisteredUser, SignupForm, SignupResponse,
};
use super::store::{LoginAttempt, take_register_slot, take_signup_slot};
use super::{password, validate};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, created, message, ok};
use crate::media::uploads;
use crate::messages;
use crate::session::AuthUser;
use crate::sms::{phone::parse_phone, store as verification};
use crate::state::AppState;
use crate::users::store as users;

#[utoipa::path(post, path = "/api/auth/signup/", tag = "auth", operation_id = "signup",
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

    let mut form = body
        .multipart(&["profile_image"], cfg.media.image_max_bytes)
        .await?;
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
            Some(uploads::store_image(&state, upload.data).await?)
        }
        _ => None,
    };
    let hash = password::hash(&state.heavy, password_text).await?;
    let new = users::NewUser {
        username: Some(&username),
        phone_number: None,
        nickname: None,
        password_hash: &hash,
        age,
        gender: gender.map(|g| g.as_str()),
        profile_image: image.as_deref(),
    };
    let user = match users::insert(&state.db, &new).await {
        Ok(user) => user,
        Err(e) => {
            uploads::delete_files(&state, image.as_slice()).await;
            return Err(e.into());
        }
    };
    let tokens = state.tokens.start_session(&state.redis, user.id).await?;
    created(&SignupResponse {
        message: messages::SIGNED_UP,
        user_id: user.id,
        tokens,
    })
}

#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", operation_id = "login",
    description = "Username login (matching document) or phone login (Talk document, \
                   also at `/api/auth/login`), chosen by the field sent.",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, body = crate::error::ErrorBody, description = "Wrong username, phone or password"),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody),
        (status = 503, body = crate::error::ErrorBody, description = "Too many logins at once; Retry-After")))]
pub async fn login(state: AppState, ip: IpAddr, body: Body) -> ApiResult<Response> {
    let req: LoginRequest = body.json().await?;
    let (attempt, failure, user) = match (&req.phone_number, &req.username) {
        (Some(phone), _) => {
            let phone = parse_phone(phone)?;
            let attempt = LoginAttempt::begin(&state, &format!("phone:{phone}"), ip).await?;
            let user = users::by_phone(&state.db, &phone).await?;
            (attempt, messages::BAD_PHONE_LOGIN, user)
        }
        (None, Some(username)) => {
            let username = username.trim();
            let account = format!("user:{}", username.to_lowercase());
            let attempt = LoginAttempt::begin(&state, &account, ip).await?;
            let user = users::by_username(&state.db, username).await?;
            (attempt, messages::BAD_USERNAME_LOGIN, user)
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
        message: messages::LOGGED_IN,
        token: tokens.access.clone(),
        tokens,
        user: LoginUser {
            id: user.id,
            nickname: user.shown_nickname,
            username: user.shown_username,
            phone_number: user.phone_number,
            last_login_at,
            created_at: user.created_at,
        },
    })
}

#[utoipa::path(post, path = "/api/auth/refresh/", tag = "auth", operation_id = "refresh",
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

#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", operation_id = "logout",
    request_body = RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: RefreshRequest = body.json().await?;
    state.tokens.logout(&state.redis, &me, &req.refresh).await?;
    message(messages::LOGGED_OUT)
}

#[utoipa::path(post, path = "/api/auth/register", tag = "talk-auth", operation_id = "register",
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
    take_register_slot(&state, ip).await?;
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
        return Err(ApiError::phone_taken());
    }
    if !verification::is_verified(&state, &phone).await? {
        return Err(ApiError::Document {
            status: warp::http::StatusCode::FORBIDDEN,
            text: messages::PHONE_NOT_VERIFIED,
            fields: serde_json::json!({
                "verification_required": true,
                "verification_status": {"verified": false, "can_resend": true},
            }),
        });
    }
    take_signup_slot(&state, ip).await?;

    let hash = password::hash(&state.heavy, req.password).await?;
    let new = users::NewUser {
        username: None,
        phone_number: Some(&phone),
        nickname: Some(&nickname),
        password_hash: &hash,
        age: req.age,
        gender: req.gender.map(|g| g.as_str()),
        profile_image: None,
    };
    let user = users::insert(&state.db, &new).await?;
    verification::consume_verification(&state, &phone).await?;
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
        message: messages::REGISTERED,
    })
}
