//! Shapes of block, unblock and report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::messages::Text;

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Block {
    pub id: i64,
    pub blocker_id: i64,
    pub blocked_id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BlockResponse {
    pub message: Text,
    pub block: Block,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReportRequest {
    /// 1–500 characters.
    pub reason: String,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Report {
    pub id: i64,
    pub reporter_id: i64,
    pub reported_id: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportResponse {
    pub message: Text,
    pub report: Report,
}
