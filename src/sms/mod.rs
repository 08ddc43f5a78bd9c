//! SMS verification of the Talk document: codes kept as keyed hashes in
//! Redis (`store`), phone numbers (`phone`), the SMS provider (`provider`),
//! and the endpoints.

pub mod handlers;
pub mod model;
pub mod phone;
pub mod provider;
pub mod routes;
pub mod store;

pub use routes::routes;
