//! voxmatch: the backend of a voice-social app, serving two API documents
//! (`shared/seeds/`) under the contract of `shared/SPEC.md`.
//!
//! # A tour
//!
//! - `main` reads the config and calls `startup`, which builds the pools,
//!   runs migrations, loads the Lua scripts, composes one router per domain
//!   and serves.
//! - Every domain folder has the same parts, so a route's code is found from
//!   its path: `routes.rs` (the warp filters of `/api/<domain>/...`),
//!   `handlers.rs` (one function per endpoint), `model.rs` (the contract's
//!   shapes), `store.rs` (SQL and Redis). Domains: `auth`, `sms`, `users`,
//!   `matching` (+ `engine`: the Lua pool, `service`: pairing and paying as
//!   one unit, `ids`, `tasks`), `gems` (+ `ledger`, `payments`), `calls`
//!   (+ `ice`, `tasks`), `history`, `broadcasts`, `conversations`,
//!   `moderation` (+ `suspension`, `appeals`), `admin` (+ `cli`: `voxmatch
//!   admin grant`), `media` (+ `storage`, `images`, `voice`, `uploads`),
//!   `presence` (+ `tasks`), `push` (+ `outbox`, `worker`),
//!   `realtime` (`hub`, `protocol`, `ws`, `sse`), `ops` (health, metrics,
//!   OpenAPI).
//! - A route is `path.and(method).and(http::signed_in(&state))` (or
//!   `http::public`) and runs its handler with `http::detached`: the caller
//!   is extracted (401 before any handler), and a client that hangs up
//!   cannot stop a write half-way.
//!
//! # Layers: what may import what
//!
//! ```text
//!  main, startup ──> <domain>::routes ──> <domain>::handlers ──> <domain>::{service, engine}
//!                                                 │                          │
//!                                                 └──────> <domain>::{model, store}, other
//!                                                          domains' model/store only
//!  ─────────────────────────────────────────────────────────────────────────────────────
//!  http (filters, body, reply, provider), state    (the floor every handler stands on)
//!  ─────────────────────────────────────────────────────────────────────────────────────
//!  ground floor: error, messages, config, session, redis (keys, scripts), ratelimit,
//!  heavy, tasks, telemetry, realtime::hub + protocol, users::model
//! ```
//!
//! A file imports only files on its own floor or below; the ground floor
//! imports nothing above it. When two domains need the same shape it moves
//! down a floor (`users::model`, `media::uploads`), never sideways into
//! another domain's handlers. `shared/tools/import_cycles.py src 450` checks
//! that no import cycle exists.
//!
//! Postgres schema: `migrations/`, applied at start. Redis keys:
//! `redis::keys`. Lua scripts: `lua/`, one per multi-step change.

pub mod admin;
pub mod auth;
pub mod broadcasts;
pub mod cache;
pub mod calls;
pub mod config;
pub mod conversations;
pub mod demo;
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
pub mod presence;
pub mod push;
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
