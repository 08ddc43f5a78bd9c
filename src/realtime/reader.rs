//! The node's reader of the bus: starts the subscription and the hub, hands
//! every message heard to the hub, renews the subscriptions after a
//! reconnection (reading back what was missed) and forgets idle channels.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::bus::{Bus, BusMetrics, Invalidation, OnInvalidate};
use super::event::{Dispatched, Event};
use super::hub::Hub;
use crate::redis::Redis;

/// Streams read at once when the bus lost messages.
const READ_BACK_AT_ONCE: usize = 32;

/// The line before each event of a bus message (`lua/realtime/event.lua`).
#[derive(Deserialize)]
struct Envelope<'a> {
    to: Vec<i64>,
    #[serde(default)]
    id: &'a str,
    #[serde(default)]
    answered: bool,
}

/// Connects the bus and starts the node's hub; returns once the node hears
/// events, so none is missed after start.
pub async fn start(
    config: fred::types::config::Config,
    redis: Redis,
    metrics: BusMetrics,
    on_invalidate: OnInvalidate,
    buffer: usize,
) -> Result<Arc<Hub>, fred::error::Error> {
    let subscriber = Builder::from_config(config)
        .set_policy(crate::redis::reconnect_policy())
        // bursts (a crowd paired at once) must not overflow the client's buffer
        .with_performance_config(|p| p.broadcast_channel_capacity = buffer)
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
            // a reconnection first, and both handled here: newer messages wait in the
            // buffer until what was missed has been read back, so that each user's
            // events are handed in order (what is buffered then comes as a repeat, and
            // is skipped)
            tokio::select! {
                biased;
                renewal = reconnections.recv() => match renewal {
                    Ok(server) => renew(reader.bus(), &reader, &server).await,
                    // renewals not heard: the one still buffered renews everything
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                message = messages.recv() => match message {
                    Ok(message) => hear(&reader, &invalidations, &message),
                    // a burst outran the buffer: those messages are lost, the next ones
                    // are not. Invalidations may be among them, so every cache is
                    // forgotten; the events are read back from the users' streams
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(
                            skipped,
                            "event bus lagged; caches forgotten, streams read back"
                        );
                        (reader.bus().on_invalidate)(Invalidation::All);
                        reader.bus().metrics.lagged.inc();
                        read_back(reader.bus(), &reader, "a lag of the bus").await;
                    }
                    Err(RecvError::Closed) => return,
                },
            }
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
            forget_idle(hub.bus(), &hub).await;
        }
    });
    Ok(hub)
}

/// One message heard on the bus: an invalidation, or events for the hub.
fn hear(hub: &Hub, invalidations: &str, message: &fred::types::Message) {
    let Some(payload) = message.value.as_str() else {
        return;
    };
    if &*message.channel == invalidations {
        match serde_json::from_str(&payload) {
            Ok(what) => (hub.bus().on_invalidate)(what),
            Err(_) => tracing::warn!("malformed invalidation on the bus"),
        }
    } else {
        hand_over(hub.bus(), hub, &payload);
    }
}

/// Hands one bus message to the hub: for each event (one script may publish
/// several), a line with its envelope, then a line with the event itself.
fn hand_over(bus: &Bus, hub: &Hub, payload: &str) {
    let mut lines = payload.split('\n');
    while let Some(line) = lines.next() {
        match (serde_json::from_str::<Envelope>(line), lines.next()) {
            (Ok(envelope), Some(event)) => hand(bus, hub, envelope, event),
            _ => {
                tracing::warn!("malformed event on the bus");
                return;
            }
        }
    }
}

fn hand(bus: &Bus, hub: &Hub, envelope: Envelope, event: &str) {
    let Some(event) = Event::parse(envelope.id, event, envelope.answered) else {
        tracing::warn!("event without a type on the bus");
        return;
    };
    let event = Arc::new(event);
    for uid in envelope.to {
        bus.metrics.received.inc();
        if hub.dispatch(uid, event.clone()) == Dispatched::Nobody {
            bus.metrics.unneeded.inc();
        }
    }
}

/// Unsubscribes the channels of users nobody listened to for a while.
async fn forget_idle(bus: &Bus, hub: &Hub) {
    let _serial = bus.changes.lock().await;
    let idle = hub.forget_idle();
    if !bus.redis.clustered || idle.is_empty() {
        return;
    }
    let channels = idle.iter().map(|u| bus.redis.keys.user_channel(*u));
    let Ok(slots) = fred::util::group_by_hash_slot(channels) else {
        return;
    };
    // SUNSUBSCRIBE, like SSUBSCRIBE, takes the channels of one slot at a time
    for (_, channels) in slots {
        if let Err(e) = bus.subscriber.sunsubscribe(Vec::from(channels)).await {
            tracing::warn!(error = %e, "could not unsubscribe idle users' channels");
        }
    }
}

/// Subscribes again to every channel the subscriber tracks. Not fred's
/// `resubscribe_all`: with no plain channel (a Cluster, where every channel is
/// sharded) it sends a bare SUBSCRIBE, which Redis refuses, and stops there,
/// before the sharded channels.
async fn resubscribe(subscriber: &SubscriberClient) -> Result<(), fred::error::Error> {
    let channels: Vec<_> = subscriber.tracked_channels().into_iter().collect();
    if !channels.is_empty() {
        subscriber.subscribe(channels).await?;
    }
    // SSUBSCRIBE takes the channels of one slot at a time; a slot that fails (its
    // master is failing over) does not keep the others from being renewed
    let mut failed = None;
    for (_, channels) in fred::util::group_by_hash_slot(subscriber.tracked_shard_channels())? {
        if let Err(e) = subscriber.ssubscribe(Vec::from(channels)).await {
            failed = Some(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// After a reconnection: subscriptions renewed, missed events read back.
async fn renew(bus: &Bus, hub: &Hub, server: &fred::types::config::Server) {
    let renewed = {
        let _serial = bus.changes.lock().await;
        resubscribe(&bus.subscriber).await
    };
    bus.metrics.resubscribes.inc();
    (bus.on_invalidate)(Invalidation::All);
    match renewed {
        Ok(()) => tracing::warn!(%server, "event bus reconnected; subscriptions renewed"),
        Err(e) => {
            tracing::error!(%server, error = %e, "event bus reconnected; renewing subscriptions failed")
        }
    }
    read_back(bus, hub, "the reconnection").await;
}

/// Hands each local user what their stream holds after the last event they
/// were handed: events lost to `cause` (a reconnection, a lag). The streams are
/// read a few at a time; each user's events are handed in order.
async fn read_back(bus: &Bus, hub: &Hub, cause: &str) {
    let started = std::time::Instant::now();
    let mut reads = futures_util::stream::iter(hub.positions())
        .map(|(uid, last)| async move { (uid, bus.read_after(uid, &last).await) })
        .buffer_unordered(READ_BACK_AT_ONCE);
    let mut recovered = 0;
    while let Some((uid, read)) = reads.next().await {
        match read {
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
    bus.metrics.recovered.inc_by(recovered);
    if recovered > 0 {
        let ms = started.elapsed().as_millis() as u64;
        tracing::warn!(recovered, cause, ms, "missed events delivered from streams");
    }
}
