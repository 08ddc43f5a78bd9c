//! Integration tests against real Redis and Postgres (see `helpers::spawn_app`).

mod auth;
mod helpers;
mod ops;
mod profile;
mod sms;
