//! 1:1 voice conversations (Talk document): the endpoints (`handlers`), the
//! SQL (`store`, also used by broadcast replies, which open conversations)
//! and the shapes (`model`).

pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;

pub use routes::routes;
