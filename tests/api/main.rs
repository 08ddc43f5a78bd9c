//! Integration tests against real Redis and Postgres (see `helpers::spawn_app`).

mod auth;
mod caches;
mod calls;
mod demo;
mod events;
mod faults;
mod gems;
mod helpers;
mod history;
mod limits;
mod matching;
mod media;
mod ops;
mod presence_push;
mod profile;
mod queue;
mod realtime;
mod safety;
mod sms;
mod talk;
mod walkthrough;
