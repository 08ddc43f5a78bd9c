//! Integration tests against real Redis and Postgres (see `helpers::spawn_app`).

mod auth;
mod gems;
mod helpers;
mod matching;
mod ops;
mod profile;
mod realtime;
mod sms;
