//! Push notifications (SPEC.md "Beyond the documents: safety, presence,
//! push"): devices register tokens (`handlers`, `store`); `new_message`,
//! `broadcast_reply` and `match_found` for a user with no WebSocket/SSE open
//! on any node go to the push provider. Domains hand events to the node's
//! `outbox` (`App::push`, never waiting); the `worker` checks presence,
//! dedupes across nodes and calls the provider with retries.

pub mod handlers;
pub mod model;
pub mod outbox;
pub mod routes;
pub mod store;
pub mod worker;

pub use routes::routes;
