//! The realtime protocol: every event the server sends, and every message a
//! client may send on `/ws`, in one place. Each is a JSON object whose `type`
//! names it (SSE also sends it as the `event:` line).
//!
//! The matching scripts (`lua/matching/`) write `match_found` and
//! `match_decided` themselves, in the shapes below, in the same atomic step
//! as the change they announce.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::users::model::UserSummary;

pub const MATCH_FOUND: &str = "match_found";
pub const MATCH_DECIDED: &str = "match_decided";
/// Internal: closes a revoked session's streams on every node; never sent to clients.
pub const SESSION_REVOKED: &str = "session_revoked";
/// Internal: the user's settings changed while they waited, and they left the pool;
/// their long polls enter again with the new settings. Never sent to clients.
pub const POOL_LEFT: &str = "pool_left";

/// An event for users, as it travels on the bus and reaches their sockets:
/// `{"type": "<name>", ...its fields}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    MatchFound(#[schema(inline)] MatchFound<'a>),
    MatchDecided(#[schema(inline)] MatchDecided<'a>),
    CallStarted(#[schema(inline)] CallStarted<'a>),
    CallEnded(#[schema(inline)] CallEnded<'a>),
    Signal(#[schema(inline)] Signal<'a>),
    NewMessage(#[schema(inline)] NewMessage<'a>),
    BroadcastReply(#[schema(inline)] BroadcastReply<'a>),
}

impl Event<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

/// A new match to decide on (also the body of `GET /api/match/random/`, with
/// `type` set the same way).
#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchFound<'a> {
    pub match_id: i64,
    /// Seconds left to decide.
    pub show_time_sec: i64,
    #[schema(value_type = crate::matching::model::MatchedUser)]
    pub matched_user: &'a RawValue,
}

/// How a match ended: `matched` (both accepted) or `next`. Written by the
/// matching scripts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchDecided<'a> {
    pub match_id: i64,
    pub status: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallStarted<'a> {
    pub call_session_id: &'a str,
    pub match_id: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallEnded<'a> {
    pub call_session_id: &'a str,
    pub call_id: i64,
    pub duration_sec: i32,
    /// `hangup` (a participant ended it) or `idle` (both sides vanished).
    pub reason: &'a str,
}

/// WebRTC signaling relayed from the call partner (SDP or ICE candidate, opaque).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Signal<'a> {
    pub call_session_id: &'a str,
    pub from: i64,
    #[schema(value_type = Object)]
    pub payload: &'a RawValue,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewMessage<'a> {
    pub conversation_id: i64,
    pub message_id: i64,
    pub sender: &'a UserSummary,
    pub voice_url: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BroadcastReply<'a> {
    pub broadcast_id: i64,
    pub conversation_id: i64,
    pub message_id: i64,
    pub from: &'a UserSummary,
}

/// Internal: the session of `session` is revoked; its streams close on every
/// node. Never sent to clients.
#[derive(Serialize)]
pub struct SessionRevoked<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub session: &'a str,
}

impl SessionRevoked<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

/// What a client sends on `/ws`: `{"type":"ping"}` (answered `pong`),
/// `{"type":"signal","call_session_id","payload"}` (relayed to the call partner),
/// `{"type":"auth","token"}` (a fresh access token of the same user, so that the
/// socket outlives the first one; answered `authenticated`).
#[derive(Deserialize)]
pub struct ClientMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub call_session_id: Option<&'a str>,
    #[serde(borrow)]
    pub payload: Option<&'a RawValue>,
    pub token: Option<&'a str>,
}

impl<'a> ClientMessage<'a> {
    /// A client's message; `None` unless it is a JSON object with a `type` (serde
    /// would fill the fields from an array by position).
    pub fn parse(text: &'a str) -> Option<Self> {
        if !text.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

pub const PING: &str = "ping";
pub const SIGNAL: &str = "signal";
pub const AUTH: &str = "auth";
