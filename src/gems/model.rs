//! Shapes of the gem endpoints.

use serde::{Deserialize, Serialize};

#[derive(Serialize, utoipa::ToSchema)]
pub struct BalanceResponse {
    pub gems: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChargeRequest {
    /// From the app store or payment provider; `test_<gems>_<anything>` in development.
    pub payment_token: String,
}

/// What a purchase credited (and what its repeats answer).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Charged {
    pub gems_added: i64,
    pub new_balance: i64,
}
