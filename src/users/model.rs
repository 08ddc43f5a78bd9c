//! Shapes about users that several domains show: gender, the age bounds,
//! and the short summary of a user (broadcasts, conversations, events).
//!
//! Which name a document shows is decided in the schema, once: the generated
//! columns `users.shown_nickname` (the nickname, else the username: the Talk
//! document's `nickname`) and `users.shown_username` (the username, else the
//! nickname: the matching document's `username`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "male" => Some(Gender::Male),
            "female" => Some(Gender::Female),
            _ => None,
        }
    }
}

/// The oldest age a user may give or ask for.
pub const MAX_AGE: i32 = 100;

/// A user as others see them next to what they posted.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: i64,
    pub nickname: String,
    pub gender: Option<String>,
}

/// `GET /api/user/profile/`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileResponse {
    pub id: i64,
    pub username: String,
    pub nickname: String,
    pub phone_number: Option<String>,
    pub age: Option<i32>,
    pub gender: Option<String>,
    /// URL of the profile image, or null.
    pub profile_image: Option<String>,
    pub gems: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Describes the multipart form for OpenAPI; the handler reads the parts itself.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct ProfileForm {
    /// A new username (same rules as signup).
    username: Option<String>,
    /// A new JPEG/PNG/WebP image, at most 5 MB.
    #[schema(value_type = Option<String>, format = Binary)]
    profile_image: Option<Vec<u8>>,
}

/// `DELETE /api/user/`: the password (username accounts), or `phone_verified:
/// true` after a code was verified in the last 10 minutes (phone accounts).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeleteAccountRequest {
    pub password: Option<String>,
    pub phone_verified: Option<bool>,
}
