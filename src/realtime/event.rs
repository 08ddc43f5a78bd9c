//! One realtime event as the server handles it: its stream id, the fields the
//! server reads, and the JSON sent to clients (shared by the bus and the hub).

use serde::Deserialize;

/// One event, as sent to clients (`json`), with the fields the server reads.
#[derive(Debug)]
pub struct Event {
    /// The id of the event in its user's stream (empty when it was not kept
    /// in one: a node of an earlier release published it).
    pub id: String,
    pub kind: String,
    pub match_id: Option<i64>,
    pub status: Option<String>,
    /// The session a `session_revoked` event ends.
    pub session: Option<String>,
    /// Its user's own request was answered with it (a pairing's caller, their
    /// `match_found`): a long poll does not take it, since it may come after that
    /// request, when the match is over (WebSockets and SSE send it as any other).
    pub answered: bool,
    pub json: Box<str>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    match_id: Option<i64>,
    status: Option<String>,
    session: Option<String>,
}

impl Event {
    /// An event from its stream id, JSON and `answered` mark; `None` when it has no `type`.
    pub fn parse(id: &str, json: &str, answered: bool) -> Option<Self> {
        let head: Head = serde_json::from_str(json).ok()?;
        Some(Event {
            id: id.to_owned(),
            kind: head.kind,
            match_id: head.match_id,
            status: head.status,
            session: head.session,
            answered,
            json: json.into(),
        })
    }

    /// The event as a WebSocket sends it: its JSON with `event_id` first, so
    /// that a client can resume after it (`?last_event_id=`).
    pub fn with_id(&self) -> String {
        if self.id.is_empty() {
            return self.json.to_string();
        }
        format!("{{\"event_id\":\"{}\",{}", self.id, &self.json[1..])
    }
}

/// A stream id (`<ms>-<seq>`) as a pair that orders like the stream.
pub fn stream_position(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// What became of an event handed to the hub.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatched {
    Handed,
    /// Handed before (heard live and read back after the bus lost messages).
    Repeat,
    /// Nobody here listens to that user (a node of a single Redis hears everyone's events).
    Nobody,
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn stream_positions_order_like_the_stream() {
        assert!(stream_position("1700000000000-2") > stream_position("1700000000000-1"));
        assert!(stream_position("1700000000001-0") > stream_position("1700000000000-9"));
        assert_eq!(stream_position("nope"), None);
        assert_eq!(stream_position(""), None);
    }

    #[test]
    fn websocket_events_carry_their_id_first() {
        let json = r#"{"type":"x","a":1}"#;
        let event = Event::parse("5-1", json, false).unwrap();
        assert_eq!(event.with_id(), r#"{"event_id":"5-1","type":"x","a":1}"#);
        let unkept = Event::parse("", json, false).unwrap();
        assert_eq!(unkept.with_id(), r#"{"type":"x","a":1}"#);
    }
}
