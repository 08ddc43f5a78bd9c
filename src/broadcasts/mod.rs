//! Voice broadcasts (Talk document): the endpoints (`handlers`), the SQL
//! (`store`), the shapes (`model`) and the cleanup of expired files (`tasks`).

pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;
pub mod tasks;

pub use routes::routes;
