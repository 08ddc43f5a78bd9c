//! Shapes of the verification endpoints.

use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PhoneRequest {
    /// `01012345678`; hyphens, spaces and `+82` forms are accepted.
    pub phone_number: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    pub phone_number: String,
    /// The six digits received.
    pub code: String,
}
