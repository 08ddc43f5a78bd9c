//! Shapes of the broadcast endpoints.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::messages::Text;
use crate::users::model::UserSummary;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Broadcast {
    pub id: i64,
    pub user_id: i64,
    pub active: bool,
    pub expired_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub user: UserSummary,
    /// Where signed-in users fetch the voice (`Authorization` or `?token=`).
    pub voice_url: String,
    pub duration_ms: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    pub broadcast: Broadcast,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplyResponse {
    pub message: Text,
    pub conversation_id: i64,
}
