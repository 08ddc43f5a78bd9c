//! Call history and ratings (matching document section 5).

pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;

pub use routes::routes;
