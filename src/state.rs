//! `AppState`: everything a request needs, built once at start.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::gems::payments::PaymentVerifier;
use crate::heavy::HeavyJobs;
use crate::matching::ids::MatchIds;
use crate::media::storage::Storage;
use crate::ops::metrics::Metrics;
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
    pub tokens: Tokens,
    pub storage: Storage,
    pub sms: Arc<dyn SmsSender>,
    pub payments: Arc<dyn PaymentVerifier>,
    /// The bound on argon2, image decoding and audio probing.
    pub heavy: HeavyJobs,
    pub metrics: Metrics,
    pub hub: Arc<Hub>,
    pub match_ids: MatchIds,
    /// Set when the server stops: background tasks end.
    pub stopping: tokio::sync::watch::Sender<bool>,
}
