//! The event bus between nodes, over Redis. Every event of a user is kept
//! in the user's stream and published in one step (`lua/realtime/`):
//!
//! - a single Redis: on one channel every node hears;
//! - a Cluster: on the user's sharded channel (`SPUBLISH`), which only the
//!   master of that slot and the nodes serving the user hear. A node
//!   subscribes to the channels of its users as they arrive (`listen_to`).
//!
//! After a reconnection (a failover, a resharding) the node renews its
//! subscriptions, says so, and reads back from each user's stream what came
//! after the last event it handed them (counted in `events_recovered_total`).

use std::sync::Arc;
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;
use prometheus::IntCounter;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;

use super::hub::{Dispatched, Event, Hub};
use crate::error::ApiResult;
use crate::redis::Redis;

/// Bus messages buffered between the Redis connection and the dispatcher.
const BUS_BUFFER: usize = 65_536;
/// How far back a reconnecting client can resume.
const KEEP_MS: i64 = 300_000;

#[derive(Deserialize)]
struct Envelope<'a> {
    to: Vec<i64>,
    #[serde(default)]
    id: &'a str,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// What the bus counts (registered with the node's other metrics).
#[derive(Clone)]
pub struct BusMetrics {
    /// Deliveries that reached this node.
    pub received: IntCounter,
    /// ...of which for users with no listener here (what sharding saves).
    pub unneeded: IntCounter,
    /// Reconnections after which the subscriptions were renewed.
    pub resubscribes: IntCounter,
    /// Events read back from streams after a reconnection (else lost meanwhile).
    pub recovered: IntCounter,
}

/// What another node changed, that this node may have cached.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidation {
    /// A session was revoked (logout, refresh reuse).
    Session(String),
    /// These users' settings, profile, blocks, ratings or balance changed.
    Users(Vec<i64>),
    /// Anything may have changed (the bus was cut: invalidations were missed).
    All,
}

/// What a node does with the invalidations it hears (forgets cached entries).
pub type OnInvalidate = Arc<dyn Fn(Invalidation) + Send + Sync>;

pub struct Bus {
    subscriber: SubscriberClient,
    on_invalidate: OnInvalidate,
    redis: Redis,
    metrics: BusMetrics,
    /// Serializes subscribing and unsubscribing users' channels (Cluster).
    changes: tokio::sync::Mutex<()>,
}

/// Connects the bus and starts the node's hub; returns once the node hears
/// events, so none is missed after start.
pub async fn start(
    config: fred::types::config::Config,
    redis: Redis,
    metrics: BusMetrics,
    on_invalidate: OnInvalidate,
) -> Result<Arc<Hub>, fred::error::Error> {
    let subscriber = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        // bursts (a crowd paired at once) must not overflow the client's buffer
        .with_performance_config(|p| p.broadcast_channel_capacity = BUS_BUFFER)
        // named after the client, so that its connections can be told apart (and cut in tests)
        .with_connection_config(|c| c.auto_client_setname = true)
        .build_subscriber_client()?;
    subscriber.init().await?;
    let mut messages = subscriber.message_rx();
    let mut reconnections = subscriber.reconnect_rx();
    let invalidations = redis.keys.invalidations_channel();
    if redis.clustered {
        subscriber.ssubscribe(invalidations.clone()).await?;
    } else {
        subscriber
            .subscribe(vec![redis.keys.events_channel(), invalidations.clone()])
            .await?;
    }
    let hub = Arc::new(Hub::new(Bus {
        subscriber,
        on_invalidate,
        redis,
        metrics,
        changes: tokio::sync::Mutex::new(()),
    }));
    let reader = hub.clone();
    tokio::spawn(async move {
        loop {
            match messages.recv().await {
                Ok(message) => {
                    let Some(payload) = message.value.as_str() else {
                        continue;
                    };
                    if &*message.channel == invalidations.as_str() {
                        match serde_json::from_str(&payload) {
                            Ok(what) => (reader.bus().on_invalidate)(what),
                            Err(_) => tracing::warn!("malformed invalidation on the bus"),
                        }
                    } else {
                        reader.bus().hand_over(&reader, &payload);
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
    let renewer = hub.clone();
    tokio::spawn(async move {
        while let Ok(server) = reconnections.recv().await {
            renewer.bus().renew(&renewer, &server).await;
        }
    });
    let sweeper = Arc::downgrade(&hub);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        loop {
            tick.tick().await;
            let Some(hub) = sweeper.upgrade() else {
                return;
            };
            hub.bus().forget_idle(&hub).await;
        }
    });
    Ok(hub)
}

impl Bus {
    /// Hands one bus message to the hub: an envelope, or an array of them
    /// (what one script published).
    fn hand_over(&self, hub: &Hub, payload: &str) {
        if payload.starts_with('[') {
            match serde_json::from_str::<Vec<Envelope>>(payload) {
                Ok(envelopes) => envelopes.into_iter().for_each(|e| self.hand(hub, e)),
                Err(_) => tracing::warn!("malformed events on the bus"),
            }
            return;
        }
        match serde_json::from_str::<Envelope>(payload) {
            Ok(envelope) => self.hand(hub, envelope),
            Err(_) => tracing::warn!("malformed event on the bus"),
        }
    }

    fn hand(&self, hub: &Hub, envelope: Envelope) {
        let Some(event) = Event::parse(envelope.id, envelope.event) else {
            tracing::warn!("event without a type on the bus");
            return;
        };
        let event = Arc::new(event);
        for uid in envelope.to {
            self.metrics.received.inc();
            if hub.dispatch(uid, event.clone()) == Dispatched::Nobody {
                self.metrics.unneeded.inc();
            }
        }
    }

    /// On a Cluster, subscribes (once) to the sharded channel of `uid`.
    pub async fn listen_to(
        &self,
        uid: i64,
        subscribed: &tokio::sync::OnceCell<()>,
    ) -> ApiResult<()> {
        if !self.redis.clustered {
            return Ok(());
        }
        subscribed
            .get_or_try_init(|| async {
                let _serial = self.changes.lock().await;
                self.subscriber
                    .ssubscribe(self.redis.keys.user_channel(uid))
                    .await
            })
            .await?;
        Ok(())
    }

    /// Unsubscribes the channels of users nobody listened to for a while.
    async fn forget_idle(&self, hub: &Hub) {
        let _serial = self.changes.lock().await;
        let idle = hub.forget_idle();
        if !self.redis.clustered || idle.is_empty() {
            return;
        }
        let channels: Vec<String> = idle
            .iter()
            .map(|u| self.redis.keys.user_channel(*u))
            .collect();
        if let Err(e) = self.subscriber.sunsubscribe(channels).await {
            tracing::warn!(error = %e, "could not unsubscribe idle users' channels");
        }
    }

    /// After a reconnection: subscriptions renewed, missed events read back.
    async fn renew(&self, hub: &Hub, server: &fred::types::config::Server) {
        let renewed = {
            let _serial = self.changes.lock().await;
            self.subscriber.resubscribe_all().await
        };
        self.metrics.resubscribes.inc();
        (self.on_invalidate)(Invalidation::All);
        match renewed {
            Ok(()) => tracing::warn!(%server, "event bus reconnected; subscriptions renewed"),
            Err(e) => {
                tracing::error!(%server, error = %e, "event bus reconnected; renewing subscriptions failed")
            }
        }
        let mut recovered = 0;
        for (uid, last) in hub.positions() {
            match self.read_after(uid, &last).await {
                Ok(missed) => {
                    for event in missed {
                        if hub.dispatch(uid, Arc::new(event)) == Dispatched::Handed {
                            recovered += 1;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(user_id = uid, error = %e, "could not read back missed events")
                }
            }
        }
        self.metrics.recovered.inc_by(recovered);
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "events missed during the reconnection delivered from streams"
            );
        }
    }

    /// The events of `uid` after the stream id `after`, of the last 5 minutes, in order.
    pub async fn read_after(&self, uid: i64, after: &str) -> ApiResult<Vec<Event>> {
        let oldest = chrono::Utc::now().timestamp_millis() - KEEP_MS;
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .redis
            .pool
            .xrange(
                self.redis.keys.user_events(uid),
                format!("({after}"),
                "+",
                Some(128),
            )
            .await?;
        Ok(entries
            .into_iter()
            .filter(|(id, _)| {
                super::hub::stream_position(id).is_some_and(|(ms, _)| ms as i64 >= oldest)
            })
            .filter_map(|(id, fields)| {
                let json = fields.into_iter().find(|(k, _)| k == "e")?.1;
                let raw = RawValue::from_string(json).ok()?;
                Event::parse(&id, &raw)
            })
            .collect())
    }

    /// The name of the bus's connections (`CLIENT LIST`).
    pub fn connection_name(&self) -> &str {
        self.subscriber.id()
    }

    /// Closes the subscription (shutdown).
    pub async fn stop(&self) {
        let _ = self.subscriber.quit().await;
    }
}

/// Tells every node (this one included) to forget what it cached of `what`.
pub async fn invalidate(redis: &Redis, what: Invalidation) -> Result<(), fred::error::Error> {
    let channel = redis.keys.invalidations_channel();
    let message = serde_json::to_string(&what).expect("invalidations serialize");
    let _: i64 = if redis.clustered {
        redis.pool.next().spublish(channel, message).await?
    } else {
        redis.pool.next().publish(channel, message).await?
    };
    Ok(())
}

/// Delivers `event` (a JSON object with a `type`) to users on every node, and
/// keeps it in their streams for clients that reconnect.
pub async fn publish(redis: &Redis, to: &[i64], event: &str) -> Result<(), fred::error::Error> {
    deliver(redis, to, event, true).await
}

/// Delivers an internal event (never sent to clients, never replayed).
pub async fn notify(redis: &Redis, to: &[i64], event: &str) -> Result<(), fred::error::Error> {
    deliver(redis, to, event, false).await
}

async fn deliver(
    redis: &Redis,
    to: &[i64],
    event: &str,
    kept: bool,
) -> Result<(), fred::error::Error> {
    let batches: Vec<&[i64]> = if redis.clustered {
        // each user's stream and channel are in their own slot
        to.chunks(1).collect()
    } else {
        vec![to]
    };
    for users in batches {
        let keys: Vec<String> = users.iter().map(|u| redis.keys.user_events(*u)).collect();
        let mut args = vec![
            redis.keys.prefix().to_owned(),
            redis.events_channel(),
            event.to_owned(),
            if kept { "1" } else { "0" }.to_owned(),
        ];
        args.extend(users.iter().map(i64::to_string));
        let _: Vec<String> = redis.run(&redis.scripts.deliver, keys, args).await?;
    }
    Ok(())
}
