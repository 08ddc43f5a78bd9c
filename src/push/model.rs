//! Shapes of the push token endpoints.

use serde::{Deserialize, Serialize};

use crate::messages::Text;

/// Longest token accepted (FCM and APNs tokens are far shorter).
pub const MAX_TOKEN_CHARS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Fcm,
    Apns,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Fcm => "fcm",
            Platform::Apns => "apns",
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterToken {
    pub platform: Platform,
    /// 1–4096 characters, as the platform issued it.
    pub token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnregisterToken {
    pub token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub message: Text,
    pub platform: Platform,
}
