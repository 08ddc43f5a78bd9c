//! The event hub of one node: the local listeners of each user (long polls,
//! WebSockets, SSE streams) and the hand-off of events from the bus
//! (`bus`) to them.
//!
//! Every event of a user carries the id of its entry in the user's stream
//! (`lua/realtime/event.lua`): a listener that resumes after an id gets what
//! it missed first (from the stream), then the live events after it, each
//! once. On a Cluster a node listens to the sharded channels of the users it
//! serves only; a user's channel is kept a minute after their last listener
//! left, so that the next request does not subscribe again.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::bus::Bus;
use super::event::{Dispatched, Event, stream_position};
use crate::error::ApiResult;

/// Events a listener may hold before it is treated as too slow and skipped.
const BACKLOG: usize = 256;
/// How long a user's sharded channel stays subscribed after their last listener left.
pub const LINGER: Duration = Duration::from_secs(60);

struct Listener {
    id: u64,
    tx: mpsc::Sender<Arc<Event>>,
    /// A WebSocket: the connection that keeps a call alive.
    websocket: bool,
    /// A WebSocket or an SSE stream (not a long poll): the user is online.
    stream: bool,
}

/// What the node knows of one user.
#[derive(Default)]
struct Local {
    listeners: Vec<Listener>,
    /// The last event dispatched to them: after the bus lost messages (a
    /// reconnection, a lag), what came later is read back from their stream;
    /// anything not later is a repeat.
    last_id: Option<String>,
    /// When the node began listening for them (ms): where reading back starts
    /// for a user who got nothing yet.
    since_ms: i64,
    /// Since when nobody listens (the sharded channel lingers a while).
    idle_since: Option<Instant>,
    /// The user's sharded channel is subscribed (Cluster).
    subscribed: Arc<tokio::sync::OnceCell<()>>,
}

pub struct Hub {
    users: Mutex<HashMap<i64, Local>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    bus: Bus,
}

/// A listener of one user's events; it stops listening when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    uid: i64,
    id: u64,
    rx: mpsc::Receiver<Arc<Event>>,
    /// Missed events read back from the stream, sent before the live ones.
    replay: VecDeque<Arc<Event>>,
    /// Live events up to this stream position were sent already (replayed).
    after: Option<(u64, u64)>,
}

impl Hub {
    pub fn new(bus: Bus) -> Self {
        Hub {
            users: Mutex::default(),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            bus,
        }
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// A long poll or an SSE stream; listening has begun when it returns (on a
    /// Cluster, once the user's channel is subscribed).
    pub async fn subscribe(self: &Arc<Self>, uid: i64) -> ApiResult<Subscription> {
        self.listen(uid, false, false, None).await
    }

    /// A stream (WebSocket or SSE) that first gets the events of the last 5
    /// minutes after `after` (a stream id the client saw), in order and each once.
    pub async fn resume(
        self: &Arc<Self>,
        uid: i64,
        websocket: bool,
        after: Option<&str>,
    ) -> ApiResult<Subscription> {
        self.listen(uid, websocket, true, after).await
    }

    async fn listen(
        self: &Arc<Self>,
        uid: i64,
        websocket: bool,
        stream: bool,
        after: Option<&str>,
    ) -> ApiResult<Subscription> {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribed = None;
        if !self.closed.load(Ordering::Acquire) {
            let mut users = self.users.lock().expect("hub lock");
            let local = users.entry(uid).or_insert_with(|| Local {
                since_ms: chrono::Utc::now().timestamp_millis(),
                ..Local::default()
            });
            local.listeners.push(Listener {
                id,
                tx,
                websocket,
                stream,
            });
            local.idle_since = None;
            subscribed = Some(local.subscribed.clone());
        }
        let mut subscription = Subscription {
            hub: self.clone(),
            uid,
            id,
            rx,
            replay: VecDeque::new(),
            after: None,
        };
        if let Some(cell) = subscribed {
            self.bus.listen_to(uid, &cell).await?;
        }
        // listening before reading back: what arrives meanwhile is skipped as a repeat
        if let Some(after) = after.filter(|a| stream_position(a).is_some()) {
            let missed = self.bus.read_after(uid, after).await?;
            subscription.after = missed
                .last()
                .and_then(|e| stream_position(&e.id))
                .or_else(|| stream_position(after));
            subscription.replay = missed.into_iter().map(Arc::new).collect();
        }
        Ok(subscription)
    }

    fn unsubscribe(&self, uid: i64, id: u64) {
        let mut users = self.users.lock().expect("hub lock");
        if let Some(local) = users.get_mut(&uid) {
            local.listeners.retain(|l| l.id != id);
            if local.listeners.is_empty() {
                local.idle_since = Some(Instant::now());
            }
        }
    }

    /// Hands one event to the local listeners of `uid`.
    pub fn dispatch(&self, uid: i64, event: Arc<Event>) -> Dispatched {
        let mut users = self.users.lock().expect("hub lock");
        let Some(local) = users.get_mut(&uid) else {
            return Dispatched::Nobody;
        };
        if let Some(at) = stream_position(&event.id) {
            // heard live and read back after the bus lost messages: once only
            if local.last_id.as_deref().and_then(stream_position) >= Some(at) {
                return Dispatched::Repeat;
            }
            local.last_id = Some(event.id.clone());
        }
        for listener in &local.listeners {
            if listener.tx.try_send(event.clone()).is_err() {
                tracing::debug!(user_id = uid, "listener too slow; event skipped");
            }
        }
        Dispatched::Handed
    }

    /// Users with at least one listener on this node (they are alive).
    pub fn local_users(&self) -> Vec<i64> {
        let users = self.users.lock().expect("hub lock");
        users
            .iter()
            .filter(|(_, local)| !local.listeners.is_empty())
            .map(|(uid, _)| *uid)
            .collect()
    }

    /// Users with a WebSocket open on this node.
    pub fn local_websocket_users(&self) -> Vec<i64> {
        let users = self.users.lock().expect("hub lock");
        users
            .iter()
            .filter(|(_, local)| local.listeners.iter().any(|l| l.websocket))
            .map(|(uid, _)| *uid)
            .collect()
    }

    /// Users with a WebSocket or SSE stream open on this node (online).
    pub fn local_stream_users(&self) -> Vec<i64> {
        let users = self.users.lock().expect("hub lock");
        users
            .iter()
            .filter(|(_, local)| local.listeners.iter().any(|l| l.stream))
            .map(|(uid, _)| *uid)
            .collect()
    }

    /// Whether `uid` still has a WebSocket or SSE stream open on this node.
    pub fn has_stream(&self, uid: i64) -> bool {
        let users = self.users.lock().expect("hub lock");
        users
            .get(&uid)
            .is_some_and(|local| local.listeners.iter().any(|l| l.stream))
    }

    /// Every local user and where their stream is to be read back from after
    /// the bus lost messages (a reconnection, a lag): after the last event
    /// they were handed, or from when the node began listening for them. Users
    /// with no listener now are read too: their position moves on, so that a
    /// listener who comes back is never handed what happened before it came.
    pub fn positions(&self) -> Vec<(i64, String)> {
        let users = self.users.lock().expect("hub lock");
        users
            .iter()
            .map(|(uid, local)| {
                let from = local
                    .last_id
                    .clone()
                    .unwrap_or_else(|| format!("{}-0", local.since_ms));
                (*uid, from)
            })
            .collect()
    }

    /// Forgets users nobody listened to for `LINGER`; returns them (their
    /// sharded channels are unsubscribed by the caller).
    pub fn forget_idle(&self) -> Vec<i64> {
        let mut users = self.users.lock().expect("hub lock");
        let idle: Vec<i64> = users
            .iter()
            .filter(|(_, l)| l.idle_since.is_some_and(|t| t.elapsed() >= LINGER))
            .map(|(uid, _)| *uid)
            .collect();
        for uid in &idle {
            users.remove(uid);
        }
        idle
    }

    /// Ends every listener (shutdown): long polls answer, streams close.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.users.lock().expect("hub lock").clear();
    }
}

impl Subscription {
    /// Whose events these are.
    pub fn user_id(&self) -> i64 {
        self.uid
    }

    /// The next event (missed ones first); `None` once the hub closed.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        if let Some(event) = self.replay.pop_front() {
            return Some(event);
        }
        loop {
            let event = self.rx.recv().await?;
            let seen = match (self.after, stream_position(&event.id)) {
                (Some(after), Some(at)) => at <= after,
                _ => false,
            };
            if !seen {
                return Some(event);
            }
        }
    }

    /// The first event that `wanted` accepts, before `deadline`.
    pub async fn wait_for(
        &mut self,
        deadline: Instant,
        wanted: impl Fn(&Event) -> bool,
    ) -> Option<Arc<Event>> {
        let deadline = tokio::time::Instant::from_std(deadline);
        loop {
            match tokio::time::timeout_at(deadline, self.recv()).await {
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
