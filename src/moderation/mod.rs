//! Block, unblock and report (Talk document), at `/users/{id}/...` and
//! `/api/users/{id}/...`. A block hides two users from each other in
//! matching, broadcasts and conversations, and stops messages both ways.
//! Reports lead to suspensions (`suspension`), which users may appeal
//! (`appeals`) and admins review (`crate::admin`).

pub mod appeals;
pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;
pub mod suspension;

pub use routes::routes;
