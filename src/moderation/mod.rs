//! Block, unblock and report (Talk document), at `/users/{id}/...` and
//! `/api/users/{id}/...`. A block hides two users from each other in
//! matching, broadcasts and conversations, and stops messages both ways.

pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;

pub use routes::routes;
