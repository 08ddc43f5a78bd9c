//! Shapes of call history and ratings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecentCall {
    /// The partner's username (or nickname).
    pub username: String,
    /// When the call started.
    pub call_time: DateTime<Utc>,
    pub call_id: i64,
    pub partner_id: i64,
    pub duration_sec: i32,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RateRequest {
    pub call_id: i64,
    /// 1–5.
    pub rating: i32,
    /// At most 500 characters.
    #[serde(default)]
    pub comment: String,
}
