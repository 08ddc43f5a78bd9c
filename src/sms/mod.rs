//! SMS verification of the Talk document: codes kept as keyed hashes in
//! Redis (`codes`), phone numbers (`phone`), the SMS provider (`provider`),
//! and the endpoints.

pub mod codes;
pub mod handlers;
pub mod model;
pub mod phone;
pub mod provider;
pub mod routes;

pub use routes::routes;
