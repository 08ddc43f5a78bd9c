//! The event bus between nodes, over Redis. Every event of a user is kept
//! in the user's stream and published in one step (`lua/realtime/`):
//!
//! - a single Redis: on one channel every node hears;
//! - a Cluster: on the user's sharded channel (`SPUBLISH`), which only the
//!   master of that slot and the nodes serving the user hear. A node
//!   subscribes to the channels of its users as they arrive (`listen_to`).
//!
//! After a reconnection (a failover, a resharding) the node renews its
//! subscriptions and says so; after a reconnection or a burst that outran
//! its buffer it reads back from each user's stream what came after the last
//! event it handed them (counted in `events_recovered_total`).

use std::sync::Arc;

use fred::clients::SubscriberClient;
use fred::prelude::*;
use prometheus::IntCounter;
use serde::Deserialize;

use super::event::{Event, stream_position};
use crate::error::ApiResult;
use crate::redis::Redis;

/// How far back a reconnecting client can resume.
const KEEP_MS: i64 = 300_000;

/// What the bus counts (registered with the node's other metrics).
#[derive(Clone)]
pub struct BusMetrics {
    /// Deliveries that reached this node.
    pub received: IntCounter,
    /// ...of which for users with no listener here (what sharding saves).
    pub unneeded: IntCounter,
    /// Reconnections after which the subscriptions were renewed.
    pub resubscribes: IntCounter,
    /// Events read back from streams after the bus lost messages (a reconnection, a lag).
    pub recovered: IntCounter,
    /// Bursts that outran the buffer; each forgets every cache and reads the streams back.
    pub lagged: IntCounter,
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
    pub(super) subscriber: SubscriberClient,
    pub(super) on_invalidate: OnInvalidate,
    pub(super) redis: Redis,
    pub(super) metrics: BusMetrics,
    /// Serializes subscribing and unsubscribing users' channels (Cluster).
    pub(super) changes: tokio::sync::Mutex<()>,
}

impl Bus {
    /// On a Cluster, subscribes (once) to the sharded channel of `uid`.
    pub async fn listen_to(
        &self,
        uid: i64,
        subscribed: &tokio::sync::OnceCell<()>,
    ) -> ApiResult<()> {
        if !self.redis.clustered {
            return Ok(());
        }
        // boxed, as every fred call on a request's path (see `crate::redis`)
        Box::pin(subscribed.get_or_try_init(|| async {
            let _serial = self.changes.lock().await;
            self.subscriber
                .ssubscribe(self.redis.keys.user_channel(uid))
                .await
        }))
        .await?;
        Ok(())
    }

    /// The events of `uid` after the stream id `after`, of the last 5 minutes, in order.
    pub async fn read_after(&self, uid: i64, after: &str) -> ApiResult<Vec<Event>> {
        let oldest = chrono::Utc::now().timestamp_millis() - KEEP_MS;
        let entries: Vec<(String, Vec<(String, String)>)> = Box::pin(self.redis.pool.xrange(
            self.redis.keys.user_events(uid),
            format!("({after}"),
            "+",
            Some(128),
        ))
        .await?;
        Ok(entries
            .into_iter()
            .filter(|(id, _)| stream_position(id).is_some_and(|(ms, _)| ms as i64 >= oldest))
            .filter_map(|(id, fields)| {
                let answered = fields.iter().any(|(k, v)| k == "a" && v == "1");
                let json = fields.into_iter().find(|(k, _)| k == "e")?.1;
                Event::parse(&id, &json, answered)
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
/// keeps it in their streams for clients that reconnect and for nodes that
/// lost bus messages (internal events too: a lost `session_revoked` would
/// leave its session's streams open).
pub async fn publish(redis: &Redis, to: &[i64], event: &str) -> Result<(), fred::error::Error> {
    deliver(redis, to, event, false).await
}

/// `publish`, marking the event `answered` when its users' own request was
/// answered with it (a pairing's caller and their `match_found`): a long poll of
/// theirs does not take it (`Event::answered`).
pub async fn deliver(
    redis: &Redis,
    to: &[i64],
    event: &str,
    answered: bool,
) -> Result<(), fred::error::Error> {
    // a bus message gives each event one line (`lua/realtime/event.lua`); in JSON a
    // raw newline can only be whitespace between tokens (a client's pretty-printed
    // signal payload), so a space stands for it
    let event = event.replace('\n', " ");
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
            redis.events_channel().to_owned(),
            event.clone(),
            if answered { "1" } else { "" }.to_owned(),
        ];
        args.extend(users.iter().map(i64::to_string));
        let _: Vec<String> = redis.run(&redis.scripts.deliver, keys, args).await?;
    }
    Ok(())
}
