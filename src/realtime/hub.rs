//! The event hub of one node. Events travel between nodes on one Redis
//! pub/sub channel as `{"to":[user ids],"event":{...}}`; every node hears
//! every message and hands the event to its own listeners of those users
//! (long polls, WebSockets, SSE streams). Scripts publish in the same atomic
//! step as the change they announce.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fred::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::redis::Redis;

/// Events a listener may hold before it is treated as too slow and skipped.
const BACKLOG: usize = 256;
/// Bus messages buffered between the Redis connection and the dispatcher.
const BUS_BUFFER: usize = 65_536;

/// One event, as sent to clients (`json`), with the fields the server reads.
#[derive(Debug)]
pub struct Event {
    pub kind: String,
    pub match_id: Option<i64>,
    pub status: Option<String>,
    /// The session a `session_revoked` event ends.
    pub session: Option<String>,
    pub json: Box<str>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    to: Vec<i64>,
    #[serde(borrow)]
    event: &'a RawValue,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    match_id: Option<i64>,
    status: Option<String>,
    session: Option<String>,
}

struct Listener {
    id: u64,
    tx: mpsc::Sender<Arc<Event>>,
    /// A WebSocket: the connection that keeps a call alive.
    websocket: bool,
}

type Listeners = HashMap<i64, Vec<Listener>>;

#[derive(Default)]
pub struct Hub {
    listeners: Mutex<Listeners>,
    next_id: AtomicU64,
    closed: AtomicBool,
}

/// A listener of one user's events; it stops listening when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    uid: i64,
    id: u64,
    rx: mpsc::Receiver<Arc<Event>>,
}

impl Hub {
    /// A long poll or an SSE stream.
    pub fn subscribe(self: &Arc<Self>, uid: i64) -> Subscription {
        self.listen(uid, false)
    }

    pub fn subscribe_websocket(self: &Arc<Self>, uid: i64) -> Subscription {
        self.listen(uid, true)
    }

    fn listen(self: &Arc<Self>, uid: i64, websocket: bool) -> Subscription {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if !self.closed.load(Ordering::Acquire) {
            let mut listeners = self.listeners.lock().expect("hub lock");
            listeners
                .entry(uid)
                .or_default()
                .push(Listener { id, tx, websocket });
        }
        Subscription {
            hub: self.clone(),
            uid,
            id,
            rx,
        }
    }

    fn unsubscribe(&self, uid: i64, id: u64) {
        let mut listeners = self.listeners.lock().expect("hub lock");
        if let Some(list) = listeners.get_mut(&uid) {
            list.retain(|l| l.id != id);
            if list.is_empty() {
                listeners.remove(&uid);
            }
        }
    }

    /// Hands one pub/sub message to the local listeners it is addressed to.
    pub fn dispatch(&self, payload: &str) {
        let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
            tracing::warn!("malformed event on the bus");
            return;
        };
        let Ok(head) = serde_json::from_str::<Head>(envelope.event.get()) else {
            tracing::warn!("event without a type on the bus");
            return;
        };
        let event = Arc::new(Event {
            kind: head.kind,
            match_id: head.match_id,
            status: head.status,
            session: head.session,
            json: envelope.event.get().into(),
        });
        let listeners = self.listeners.lock().expect("hub lock");
        for uid in envelope.to {
            for listener in listeners.get(&uid).into_iter().flatten() {
                if listener.tx.try_send(event.clone()).is_err() {
                    tracing::debug!(user_id = uid, "listener too slow; event skipped");
                }
            }
        }
    }

    /// Users with at least one listener on this node (they are alive).
    pub fn local_users(&self) -> Vec<i64> {
        self.listeners
            .lock()
            .expect("hub lock")
            .keys()
            .copied()
            .collect()
    }

    /// Users with a WebSocket open on this node.
    pub fn local_websocket_users(&self) -> Vec<i64> {
        let listeners = self.listeners.lock().expect("hub lock");
        listeners
            .iter()
            .filter(|(_, list)| list.iter().any(|l| l.websocket))
            .map(|(uid, _)| *uid)
            .collect()
    }

    /// Ends every listener (shutdown): long polls answer, streams close.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.listeners.lock().expect("hub lock").clear();
    }
}

impl Subscription {
    /// The next event; `None` once the hub closed.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }

    /// The first event that `wanted` accepts, before `deadline`.
    pub async fn wait_for(
        &mut self,
        deadline: Instant,
        wanted: impl Fn(&Event) -> bool,
    ) -> Option<Arc<Event>> {
        let deadline = tokio::time::Instant::from_std(deadline);
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) if wanted(&event) => return Some(event),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.uid, self.id);
    }
}

/// Publishes `event` (a JSON object with a `type`) to users on every node.
pub async fn publish(redis: &Redis, to: &[i64], event: &str) -> Result<(), fred::error::Error> {
    let ids: Vec<String> = to.iter().map(i64::to_string).collect();
    let message = format!("{{\"to\":[{}],\"event\":{event}}}", ids.join(","));
    let _: i64 = redis
        .pool
        .next()
        .publish(redis.keys.events_channel(), message)
        .await?;
    Ok(())
}

/// Subscribes to the bus and feeds the hub until the connection is dropped.
/// Returns once the subscription is confirmed, so no event is missed after start.
pub async fn listen(
    config: fred::types::config::Config,
    channel: String,
    hub: Arc<Hub>,
) -> Result<fred::clients::SubscriberClient, fred::error::Error> {
    let subscriber = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        // bursts (a crowd paired at once) must not overflow the client's buffer
        .with_performance_config(|p| p.broadcast_channel_capacity = BUS_BUFFER)
        .build_subscriber_client()?;
    subscriber.init().await?;
    // resubscribes after every reconnect; the task runs on once its handle is dropped
    drop(subscriber.manage_subscriptions());
    let mut messages = subscriber.message_rx();
    subscriber.subscribe(channel).await?;
    tokio::spawn(async move {
        loop {
            match messages.recv().await {
                Ok(message) => {
                    if let Some(payload) = message.value.as_str() {
                        hub.dispatch(&payload);
                    }
                }
                // a burst outran the buffer: those events are lost, the next ones are not
                Err(RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "event bus lagged; events lost")
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(subscriber)
}
