//! Shapes of the call endpoints.

use serde::{Deserialize, Serialize};

use crate::messages::Text;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartRequest {
    pub match_id: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StartResponse {
    /// The same for both users of the match; at least 128 random bits.
    pub call_session_id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EndRequest {
    pub call_session_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndResponse {
    pub message: Text,
    #[serde(flatten)]
    pub call: Ended,
}

/// A call's row, once ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ended {
    pub call_id: i64,
    pub duration_sec: i32,
}
