//! Accounts of both documents: username signup/login (matching), phone
//! register (Talk), and the shared refresh/logout. Sessions and tokens
//! themselves are the ground floor's (`crate::session`).

pub mod handlers;
pub mod model;
pub mod password;
pub mod routes;
pub mod store;
pub mod validate;

pub use routes::routes;
