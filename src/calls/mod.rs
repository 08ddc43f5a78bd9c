//! Calls (matching document section 4): call sessions in Redis and their
//! one row in Postgres (`store`), STUN/TURN servers (`ice`), the reaper of
//! idle calls (`tasks`) and the endpoints. Signaling rides `/ws`.

pub mod handlers;
pub mod ice;
pub mod model;
pub mod routes;
pub mod store;
pub mod tasks;

pub use routes::routes;
