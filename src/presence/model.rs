//! The shape of a user's presence.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Presence {
    /// A WebSocket or SSE stream of theirs is open on some node (a long poll is not).
    pub online: bool,
    /// In a call that has not ended.
    pub in_call: bool,
    /// When they were last online (now while online); null when not for 90 days.
    pub last_seen: Option<DateTime<Utc>>,
}
