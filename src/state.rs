//! `AppState`: everything a request needs, built once at start.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::gems::payments::PaymentVerifier;
use crate::heavy::HeavyJobs;
use crate::matching::engine::Tickets;
use crate::matching::ids::MatchIds;
use crate::media::storage::Storage;
use crate::ops::metrics::Metrics;
use crate::realtime::bus::{self, Invalidation};
use crate::realtime::hub::Hub;
use crate::redis::Redis;
use crate::session::Tokens;
use crate::sms::provider::SmsSender;

pub type AppState = Arc<App>;

pub struct App {
    pub cfg: Config,
    /// Base URL of media links: `PUBLIC_URL`, or the address the server bound.
    pub public_url: String,
    pub db: PgPool,
    pub redis: Redis,
    pub tokens: Arc<Tokens>,
    /// What pairing needs of users, cached (`matching::service::ticket`).
    pub tickets: Arc<Tickets>,
    pub storage: Storage,
    pub sms: Arc<dyn SmsSender>,
    pub payments: Arc<dyn PaymentVerifier>,
    /// Pushes for users with no stream open (`push::worker` sends them).
    pub push: crate::push::outbox::Outbox,
    /// The bound on argon2, image decoding and audio probing.
    pub heavy: HeavyJobs,
    pub metrics: Metrics,
    pub hub: Arc<Hub>,
    pub match_ids: MatchIds,
    /// Set when the server stops: background tasks end.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// To call after a write to what pairing reads of users (profile, settings,
    /// blocks, ratings, balance): every node forgets what it cached of them.
    /// If the bus cannot carry it, other nodes see the change within
    /// `CANDIDATE_CACHE_MS`.
    pub async fn users_changed(&self, uids: &[i64]) {
        if uids.is_empty() {
            return;
        }
        for uid in uids {
            self.tickets.remove(uid);
        }
        if let Err(e) = bus::invalidate(&self.redis, Invalidation::Users(uids.to_vec())).await {
            tracing::warn!(error = %e, "could not tell other nodes of a change to users");
        }
    }
}
