//! Shapes of the account endpoints of both documents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::messages::Text;
use crate::session::TokenPair;
use crate::users::model::Gender;

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
    gender: Gender,
    /// Optional JPEG/PNG/WebP, at most 5 MB.
    #[schema(value_type = Option<String>, format = Binary)]
    profile_image: Option<Vec<u8>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    pub message: Text,
    pub user_id: i64,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Either document's login: `username` (matching) or `phone_number` (Talk).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub password: String,
}

/// Both documents' login answers in one: `{access, refresh}` of the
/// matching document, `{token, user, message}` of the Talk document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub message: Text,
    pub token: String,
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: LoginUser,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginUser {
    pub id: i64,
    pub nickname: String,
    pub username: String,
    pub phone_number: Option<String>,
    pub last_login_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    pub refresh: String,
}

/// `{access, refresh}` plus `token` (= access), which the Talk flows read.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RefreshResponse {
    pub token: String,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    pub phone_number: String,
    /// 8–128 characters.
    pub password: String,
    /// 1–20 characters.
    pub nickname: String,
    pub age: Option<i32>,
    pub gender: Option<Gender>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    pub token: String,
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: RegisteredUser,
    pub message: Text,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisteredUser {
    pub id: i64,
    pub nickname: String,
    pub phone_number: String,
    pub created_at: DateTime<Utc>,
}
