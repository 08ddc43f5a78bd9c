//! Shapes of the admin endpoints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StatusQuery {
    /// `open` (default) or `resolved` (resolved and dismissed).
    pub status: Option<String>,
}

/// One report, as an admin sees it.
#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReportItem {
    pub id: i64,
    pub reporter_id: i64,
    pub reason: String,
    /// `open`, `resolved` or `dismissed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// The reports of one user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportedUser {
    pub user_id: i64,
    pub username: String,
    pub reports: usize,
    /// Distinct users who reported them.
    pub reporters: usize,
    pub suspended: bool,
    /// When the suspension ends; null: until lifted (or not suspended).
    pub suspended_until: Option<DateTime<Utc>>,
    pub items: Vec<ReportItem>,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Appeal {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub reason: String,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    pub note: Option<String>,
    pub suspended_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SuspendRequest {
    /// 1–3650 days; null or left out: until lifted.
    pub days: Option<i64>,
    /// 1–500 characters.
    pub reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResolveAppealRequest {
    /// True lifts the suspension.
    pub accept: bool,
    /// Up to 1000 characters.
    pub note: Option<String>,
}
