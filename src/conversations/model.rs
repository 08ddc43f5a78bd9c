//! Shapes of the conversation endpoints.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::messages::Text;
use crate::users::model::UserSummary;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub user_a_id: i64,
    pub user_b_id: i64,
    pub active: bool,
    /// The viewer's own flag.
    pub favorite: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: DateTime<Utc>,
}

/// One conversation of the list, with both users and the viewer's unread count.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListItem {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub user_a: UserSummary,
    pub user_b: UserSummary,
    pub unread_count: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub sender_id: i64,
    pub read: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sender: Sender,
    /// Where the two participants fetch the voice (`Authorization` or `?token=`).
    pub voice_url: String,
    pub duration_ms: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Sender {
    pub id: i64,
    pub nickname: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub conversation: Conversation,
    /// Newest first; `limit` and `before` (a message id) page through them.
    pub messages: Vec<Message>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Sent {
    pub message: Text,
    pub message_id: i64,
}
