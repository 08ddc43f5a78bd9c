//! voxmatch: the backend of a voice-social app, serving two API documents
//! (`shared/seeds/`) under the contract of `shared/SPEC.md`.
//!
//! A tour for newcomers:
//! - `startup` builds everything from a `config::Config` and serves; `main`
//!   only reads the config and calls it.
//! - `http` holds the shared filters (state, auth, bodies, client address)
//!   and the one `recover`; `error::ApiError` is the one error type and the
//!   only place that picks status codes and error bodies.
//! - Domains, each with its own router: `auth` (accounts, tokens, sessions),
//!   `sms` (phone verification), `users` (the users table, profile),
//!   `media` (uploads: storage seam, image cleaning), `matching` (settings,
//!   the pool, decisions; see docs/matching.md), `gems` (balance, ledger),
//!   `calls` (call sessions, WebRTC signaling, ICE servers), `history` (recent
//!   calls, ratings), `broadcasts`, `conversations` and `moderation` (the
//!   Talk document: voice broadcasts, 1:1 voice messages, block/report), `realtime` (the cross-node event hub, WebSocket, SSE), `ops` (health,
//!   readiness, metrics, OpenAPI).
//! - `redis` names every key (`redis::keys`) and loads every Lua script of
//!   `lua/` (`redis::scripts`); `ratelimit` is the fixed-window limiter on top.
//! - Postgres schema: `migrations/`, applied at start.

pub mod auth;
pub mod broadcasts;
pub mod calls;
pub mod config;
pub mod conversations;
pub mod error;
pub mod gems;
pub mod heavy;
pub mod history;
pub mod http;
pub mod matching;
pub mod media;
pub mod messages;
pub mod moderation;
pub mod ops;
pub mod ratelimit;
pub mod realtime;
pub mod redis;
pub mod session;
pub mod sms;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod users;
