//! Presence (SPEC.md "Beyond the documents: safety, presence, push"):
//! `GET /api/users/{id}/presence` for users the caller shares a conversation
//! with, never across a block. A user is online while a WebSocket or SSE
//! stream of theirs is open on any node (`store`: the claims of nodes in
//! Redis, renewed by every node's tick in `tasks`).

pub mod handlers;
pub mod model;
pub mod routes;
pub mod store;
pub mod tasks;

pub use routes::routes;
