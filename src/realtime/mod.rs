//! Realtime delivery: the bus between nodes over Redis (`bus`, read by
//! `reader`), the node's listeners (`hub`), one event (`event`), the protocol
//! (`protocol`), `GET /ws` (`ws`) and `GET /api/events` (`sse`).

pub mod bus;
pub mod event;
pub mod hub;
pub mod protocol;
pub mod reader;
pub mod routes;
pub mod sse;
pub mod ws;

use std::time::Duration;

pub use routes::routes;

/// When an access token that expires at `unix` (seconds) stops being valid.
pub fn expiry_instant(unix: i64) -> tokio::time::Instant {
    let left = (unix - chrono::Utc::now().timestamp()).max(0) as u64;
    tokio::time::Instant::now() + Duration::from_secs(left)
}
