//! Uploaded media: where files live (`storage`), what is accepted (`images`,
//! `voice`), storing uploads (`uploads`) and serving them (`handlers`, and the
//! public route of profile images).

pub mod handlers;
pub mod images;
pub mod routes;
pub mod storage;
pub mod uploads;
pub mod voice;

pub use routes::routes;

use crate::state::AppState;

/// Storage key prefix of profile images (served without auth, like any avatar).
pub const PROFILE_DIR: &str = "profiles";

/// Storage key prefix of voice files (served only through authorised routes).
pub const VOICE_DIR: &str = "voices";

/// The URL the app loads for a stored profile image.
pub fn url(state: &AppState, key: &str) -> String {
    format!("{}/media/{key}", state.public_url)
}
