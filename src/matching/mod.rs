//! Random matching (matching document sections 2 and 3): settings, the pool,
//! decisions. The pool lives in Redis and changes only through the scripts
//! of `lua/matching/` (`engine`, run in a shard by `shard`; layout and cost in
//! docs/matching.md);
//! `service` pairs and charges as one unit; `store` is the SQL (settings,
//! what a ticket needs); `reach` is what a ticket adds to the documents'
//! filters (age band, languages, interests, relaxation); `ids` hands out
//! match ids; `tasks` is every node's housekeeping.

pub mod engine;
pub mod handlers;
pub mod ids;
pub mod model;
pub mod reach;
pub mod routes;
pub mod service;
pub mod shard;
pub mod store;
pub mod tasks;

pub use routes::routes;
