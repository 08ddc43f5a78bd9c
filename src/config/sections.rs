//! The sections of `Config`, and the masked form of connection URLs.

use secrecy::{ExposeSecret, SecretString};

/// The S3-compatible store of `MEDIA_URL` (the usual `AWS_*` variables).
#[derive(Clone, Debug)]
pub struct S3Config {
    pub region: String,
    /// `AWS_ENDPOINT_URL`: a non-AWS store (MinIO, Ceph, moto...); `http://` allowed.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
}

/// Uploads: profile images and voice files.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    pub image_max_bytes: u64,
    /// Larger images are refused (422) from their header, before decoding.
    pub image_max_pixels: u64,
    /// Longest side kept; larger images are scaled down.
    pub image_max_side: u32,
    pub voice_max_bytes: u64,
    pub voice_max_duration_ms: i64,
}

/// Per-user and per-address quotas, each a sliding window answered with 429,
/// `wait_seconds` and `Retry-After` when full.
#[derive(Clone, Debug)]
pub struct QuotaConfig {
    /// Distinct users whose reports within 24 h suspend a user pending review
    /// (`AUTO_SUSPEND_REPORTERS`; 0: never automatically).
    pub auto_suspend_reporters: i64,
    /// Voice messages one user may send in an hour.
    pub messages_per_hour: u64,
    /// Broadcast replies one user may post in an hour.
    pub replies_per_hour: u64,
    /// Reports one user may file in a day.
    pub reports_per_day: u64,
    /// WebRTC signals one user may relay in a minute.
    pub signals_per_minute: u64,
    /// `register` attempts from one address in an hour (counted before the phone is looked up).
    pub registers_per_ip_hour: u64,
}

/// Broadcasts and voice messages.
#[derive(Clone, Debug)]
pub struct TalkConfig {
    pub broadcast_ttl_sec: u64,
    /// Broadcasts one user may post in 24 hours.
    pub broadcast_daily_limit: i64,
    /// How often files of expired and deleted items are removed.
    pub cleanup_interval_sec: u64,
}

/// Calls and WebRTC.
#[derive(Clone, Debug)]
pub struct CallConfig {
    /// A call with no WebSocket of either side for this long is ended by the server.
    pub idle_timeout_sec: u64,
    /// How long a user's pointer to their current call lives (the longest call kept alive).
    pub user_call_ttl_sec: u64,
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN REST API (`static-auth-secret` of coturn).
    pub turn_secret: Option<SecretString>,
    pub turn_ttl_sec: u64,
}

/// Verifying payments for `POST /api/gem/charge/`.
#[derive(Clone, Debug)]
pub struct PaymentConfig {
    /// HTTP verifier; without it, development accepts `test_<gems>_<anything>`.
    pub verifier_url: Option<String>,
    pub verifier_key: Option<SecretString>,
    pub verifier_timeout_ms: u64,
}

/// Push notifications for users with no WebSocket/SSE open (`push`); off
/// without a provider URL.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// `PUSH_PROVIDER_URL`: where `{"platform","token","event"}` is POSTed.
    pub provider_url: Option<String>,
    pub provider_key: Option<SecretString>,
    /// Pushes waiting for the provider; past it new ones are dropped (counted).
    pub queue: usize,
    /// How long one call to the provider may take before it is retried.
    pub timeout_ms: u64,
    /// How often a node renews the presence of users with a stream open on it
    /// (a claim lives three periods).
    pub presence_refresh_sec: u64,
}

/// Tunables of the matching engine.
#[derive(Clone, Debug)]
pub struct MatchConfig {
    /// Pool shards (regions), in a fixed order shared by every node; the first is the default.
    pub shards: Vec<String>,
    pub rematch_cooldown_sec: u64,
    pub show_time_sec: u64,
    pub filter_gem_cost: i64,
    pub wait_default_sec: u64,
    pub wait_max_sec: u64,
    /// A waiting user with no open long poll, WebSocket or SSE for this long leaves the pool.
    pub ghost_timeout_sec: u64,
    /// A pair that owes gems is charged only once this many replicas hold it
    /// (`WAIT`), so that a failover cannot take a paid match away; 0: no waiting
    /// (a Redis without replicas).
    pub wait_replicas: i64,
    /// How long to wait for them (ms); past it the pair is undone (503).
    pub wait_ms: i64,
    /// How often every node runs the pool's housekeeping, and how many ghosts and
    /// expired matches one run handles at most.
    pub reap_interval_ms: u64,
    pub reap_batch: u64,
    /// How long a node trusts what it read of a user for pairing (profile,
    /// settings, blocks, balance) without reading Postgres again: the bound on
    /// a change whose invalidation a node missed.
    pub candidate_cache_ms: u64,
    /// Relaxation of a waiter's filters (for users with `relax` on): after
    /// `relax_after_sec` of waiting, and every `relax_every_sec` after that, the
    /// age range widens by `relax_age_step` years each side and a radius doubles.
    pub relax_after_sec: u64,
    pub relax_every_sec: u64,
    pub relax_age_step: i32,
}

/// A connection URL that may hold a password: `Debug` shows it masked.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        SecretUrl(SecretString::from(url))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&mask_url(self.0.expose_secret()))
    }
}

/// `scheme://user:password@host/...` with the password replaced by `***`.
fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
