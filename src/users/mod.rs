//! Users: the `users` table (`store`), the shapes other domains show of a
//! user (`model`), and the profile endpoints.

pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;

pub use routes::routes;
