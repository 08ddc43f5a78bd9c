//! Configuration from the environment (and `.env`), with SPEC.md's defaults.
//!
//! Every tunable limit and TTL of the product lives here, so that one place
//! answers "how long", "how many" and "where" (the windows of the quotas are
//! part of their names: per hour, per day). Secrets are `SecretString` and
//! never appear in `Debug` output or logs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;

mod sections;
pub use sections::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub app_env: AppEnv,
    pub bind_addr: SocketAddr,
    /// Base of the URLs handed to clients for media (`profile_image`, ...);
    /// `http://<bound address>` when unset.
    pub public_url: Option<String>,
    pub database_url: SecretUrl,
    pub db_max_connections: u32,
    /// Postgres schema to work in (tests isolate themselves with one each).
    pub db_schema: Option<String>,
    pub redis_url: SecretUrl,
    pub redis_pool_size: usize,
    /// Prepended to every Redis key and channel (tests and shared Redis servers).
    pub redis_prefix: String,
    pub jwt_secret: SecretString,
    pub media_dir: PathBuf,
    /// `s3://bucket/prefix`: media in an S3-compatible store instead of `media_dir`.
    pub media_url: Option<String>,
    pub s3: S3Config,
    /// The client address is the N-th address from the right of `X-Forwarded-For`
    /// (the one the outermost of N trusted proxies saw); 0 ignores the header.
    pub trust_forwarded_for: usize,
    /// Postgres `statement_timeout` of every pooled connection.
    pub db_statement_timeout_ms: u64,
    /// Postgres `idle_in_transaction_session_timeout` of every pooled connection.
    pub db_idle_in_transaction_timeout_ms: u64,
    /// CPU- and memory-heavy jobs (argon2, image decoding, audio probing) run at most
    /// this many at a time...
    pub heavy_jobs: usize,
    /// ...with at most this many more waiting; past that, 503 with `Retry-After`.
    pub heavy_queue: usize,
    /// A WebSocket that answers no ping for this long is closed.
    pub ws_pong_timeout_sec: u64,
    /// Bus messages buffered between the Redis connection and the node's dispatcher.
    pub event_bus_buffer: usize,

    pub min_age: i32,
    pub access_ttl_sec: u64,
    /// How long a node trusts a session it checked without asking Redis again
    /// (the bound on a revocation whose invalidation a node missed).
    pub auth_cache_ms: u64,
    pub refresh_ttl_sec: u64,

    pub signup_ip_limit: u64,
    pub login_fail_limit: u64,
    pub login_ip_fail_limit: u64,
    pub login_fail_window_sec: u64,

    pub sms_code_ttl_sec: u64,
    pub sms_resend_cooldown_sec: u64,
    pub sms_daily_limit: u64,
    pub sms_ip_limit: u64,
    pub sms_verified_ttl_sec: u64,
    pub sms_provider_url: Option<String>,
    pub sms_provider_key: Option<SecretString>,
    /// Attempts at one code before a new one must be sent.
    pub sms_max_attempts: i64,

    pub media: MediaConfig,
    pub quotas: QuotaConfig,
    pub matching: MatchConfig,
    pub calls: CallConfig,
    pub talk: TalkConfig,
    pub payments: PaymentConfig,
    pub push: PushConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{0} is required when APP_ENV=production")]
    RequiredInProduction(&'static str),
}

/// Reads one variable at a time; lets tests build a `Config` without touching
/// the process environment.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

const DEV_JWT_SECRET: &str = "development-only-secret-change-me";

impl Config {
    /// Reads `.env` (if present) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let app_env = match src.get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_ENV",
                    reason: format!("{other:?} is not development|production"),
                });
            }
        };
        let prod = app_env == AppEnv::Production;
        let jwt_secret = match src.get("JWT_SECRET") {
            Some(s) => s,
            None if prod => return Err(ConfigError::RequiredInProduction("JWT_SECRET")),
            None => DEV_JWT_SECRET.to_owned(),
        };
        if prod && jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: "must be at least 32 characters in production".into(),
            });
        }
        let sms_provider_url = src.get("SMS_PROVIDER_URL");
        if prod && sms_provider_url.is_none() {
            return Err(ConfigError::RequiredInProduction("SMS_PROVIDER_URL"));
        }
        let verifier_url = src.get("PAYMENT_VERIFIER_URL");
        if prod && verifier_url.is_none() {
            return Err(ConfigError::RequiredInProduction("PAYMENT_VERIFIER_URL"));
        }
        let bind_addr: SocketAddr = parse(src, "BIND_ADDR", "127.0.0.1:8080".parse().unwrap())?;
        let public_url = src
            .get("PUBLIC_URL")
            .map(|url| url.trim_end_matches('/').to_owned());

        Ok(Config {
            app_env,
            bind_addr,
            public_url,
            database_url: SecretUrl::from(src.get("DATABASE_URL").unwrap_or_else(|| {
                "postgres://voxmatch:voxmatch@127.0.0.1:15432/voxmatch".to_owned()
            })),
            db_max_connections: parse(src, "DB_MAX_CONNECTIONS", 20)?,
            db_schema: src.get("DB_SCHEMA"),
            redis_url: SecretUrl::from(
                src.get("REDIS_URL")
                    .unwrap_or_else(|| "redis://127.0.0.1:16379".to_owned()),
            ),
            redis_pool_size: parse(src, "REDIS_POOL_SIZE", 8)?,
            redis_prefix: src.get("REDIS_KEY_PREFIX").unwrap_or_default(),
            jwt_secret: SecretString::from(jwt_secret),
            media_dir: src
                .get("MEDIA_DIR")
                .unwrap_or_else(|| "./data/media".to_owned())
                .into(),
            media_url: src.get("MEDIA_URL"),
            s3: S3Config {
                region: src
                    .get("AWS_REGION")
                    .or_else(|| src.get("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| "us-east-1".to_owned()),
                endpoint: src.get("AWS_ENDPOINT_URL"),
                access_key_id: src.get("AWS_ACCESS_KEY_ID"),
                secret_access_key: src.get("AWS_SECRET_ACCESS_KEY").map(SecretString::from),
                session_token: src.get("AWS_SESSION_TOKEN").map(SecretString::from),
            },
            trust_forwarded_for: forwarded_hops(src.get("TRUST_FORWARDED_FOR"))?,
            db_statement_timeout_ms: parse(src, "DB_STATEMENT_TIMEOUT_MS", 10_000)?,
            db_idle_in_transaction_timeout_ms: parse(
                src,
                "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                10_000,
            )?,
            heavy_jobs: parse(src, "HEAVY_JOBS", default_heavy_jobs())?,
            heavy_queue: parse(src, "HEAVY_QUEUE", 64)?,
            ws_pong_timeout_sec: parse(src, "WS_PONG_TIMEOUT_SEC", 30)?,
            event_bus_buffer: parse(src, "EVENT_BUS_BUFFER", 65_536)?.max(1),

            min_age: parse(src, "MIN_AGE", 18)?,
            access_ttl_sec: parse(src, "ACCESS_TOKEN_TTL_SEC", 15 * 60)?,
            auth_cache_ms: parse(src, "AUTH_CACHE_MS", 2000)?,
            refresh_ttl_sec: parse(src, "REFRESH_TOKEN_TTL_SEC", 30 * 86400)?,

            signup_ip_limit: parse(src, "SIGNUP_IP_LIMIT", 500)?,
            login_fail_limit: parse(src, "LOGIN_FAIL_LIMIT", 10)?,
            login_ip_fail_limit: parse(src, "LOGIN_IP_FAIL_LIMIT", 100)?,
            login_fail_window_sec: parse(src, "LOGIN_FAIL_WINDOW_SEC", 15 * 60)?,

            sms_code_ttl_sec: parse(src, "SMS_CODE_TTL_SEC", 180)?,
            sms_resend_cooldown_sec: parse(src, "SMS_RESEND_COOLDOWN_SEC", 60)?,
            sms_daily_limit: parse(src, "SMS_DAILY_LIMIT", 10)?,
            sms_ip_limit: parse(src, "SMS_IP_LIMIT", 20)?,
            sms_verified_ttl_sec: parse(src, "SMS_VERIFIED_TTL_SEC", 30 * 60)?,
            sms_provider_url,
            sms_provider_key: src.get("SMS_PROVIDER_KEY").map(SecretString::from),
            sms_max_attempts: parse(src, "SMS_MAX_ATTEMPTS", 5)?,

            media: MediaConfig {
                image_max_bytes: parse(src, "IMAGE_MAX_BYTES", 5 * 1024 * 1024)?,
                image_max_pixels: parse(src, "IMAGE_MAX_PIXELS", 40_000_000)?,
                image_max_side: parse(src, "IMAGE_MAX_SIDE", 1024)?,
                voice_max_bytes: parse(src, "VOICE_MAX_BYTES", 10 * 1024 * 1024)?,
                voice_max_duration_ms: parse::<i64>(src, "VOICE_MAX_DURATION_SEC", 60)? * 1000,
            },

            quotas: QuotaConfig {
                auto_suspend_reporters: parse(src, "AUTO_SUSPEND_REPORTERS", 3)?,
                messages_per_hour: parse(src, "MESSAGE_HOURLY_LIMIT", 300)?,
                replies_per_hour: parse(src, "REPLY_HOURLY_LIMIT", 60)?,
                reports_per_day: parse(src, "REPORT_DAILY_LIMIT", 20)?,
                signals_per_minute: parse(src, "SIGNAL_MINUTE_LIMIT", 600)?,
                registers_per_ip_hour: parse(src, "REGISTER_IP_LIMIT", 100)?,
            },
            matching: MatchConfig {
                shards: match_shards(src.get("MATCH_SHARDS"))?,
                rematch_cooldown_sec: parse(src, "REMATCH_COOLDOWN_SEC", 600)?,
                show_time_sec: parse(src, "SHOW_TIME_SEC", 10)?,
                // never negative: the scripts read "0" as a free match
                filter_gem_cost: parse::<u32>(src, "FILTER_MATCH_GEM_COST", 1)?.into(),
                wait_default_sec: parse(src, "MATCH_WAIT_DEFAULT_SEC", 25)?,
                wait_max_sec: parse(src, "MATCH_WAIT_MAX_SEC", 60)?,
                ghost_timeout_sec: parse(src, "GHOST_TIMEOUT_SEC", 30)?,
                wait_replicas: parse(src, "REDIS_WAIT_REPLICAS", 0)?,
                wait_ms: parse(src, "REDIS_WAIT_MS", 100)?,
                reap_interval_ms: parse(src, "REAP_INTERVAL_MS", 500)?,
                reap_batch: parse(src, "REAP_BATCH", 500)?,
                candidate_cache_ms: parse(src, "CANDIDATE_CACHE_MS", 30_000)?,
                relax_after_sec: parse(src, "RELAX_AFTER_SEC", 20)?,
                relax_every_sec: parse::<u64>(src, "RELAX_EVERY_SEC", 10)?.max(1),
                relax_age_step: parse(src, "RELAX_AGE_STEP", 2)?,
            },
            talk: TalkConfig {
                broadcast_ttl_sec: parse(src, "BROADCAST_TTL_SEC", 86400)?,
                broadcast_daily_limit: parse(src, "BROADCAST_DAILY_LIMIT", 20)?,
                cleanup_interval_sec: parse(src, "MEDIA_CLEANUP_INTERVAL_SEC", 60)?,
            },
            calls: CallConfig {
                idle_timeout_sec: parse(src, "CALL_IDLE_TIMEOUT_SEC", 60)?,
                user_call_ttl_sec: parse(src, "CALL_POINTER_TTL_SEC", 86400)?,
                stun_urls: list(
                    src.get("STUN_URLS")
                        .as_deref()
                        .unwrap_or("stun:stun.l.google.com:19302"),
                ),
                turn_urls: list(src.get("TURN_URLS").as_deref().unwrap_or("")),
                turn_secret: src.get("TURN_SECRET").map(SecretString::from),
                turn_ttl_sec: parse(src, "TURN_TTL_SEC", 3600)?,
            },
            payments: PaymentConfig {
                verifier_url,
                verifier_key: src.get("PAYMENT_VERIFIER_KEY").map(SecretString::from),
                verifier_timeout_ms: parse(src, "PAYMENT_VERIFIER_TIMEOUT_MS", 5000)?,
            },
            push: PushConfig {
                provider_url: src.get("PUSH_PROVIDER_URL"),
                provider_key: src.get("PUSH_PROVIDER_KEY").map(SecretString::from),
                queue: parse::<usize>(src, "PUSH_QUEUE", 10_000)?.max(1),
                timeout_ms: parse(src, "PUSH_TIMEOUT_MS", 5000)?,
                presence_refresh_sec: parse::<u64>(src, "PRESENCE_REFRESH_SEC", 10)?.max(1),
            },
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

fn parse<T: FromStr>(src: &dyn Source, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match src.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            }),
    }
}

/// `TRUST_FORWARDED_FOR`: a number of proxies; `true`/`false` (the older form) mean 1/0.
fn forwarded_hops(raw: Option<String>) -> Result<usize, ConfigError> {
    match raw.as_deref().map(str::trim) {
        None | Some("false") => Ok(0),
        Some("true") => Ok(1),
        Some(n) => n
            .parse()
            .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                name: "TRUST_FORWARDED_FOR",
                reason: e.to_string(),
            }),
    }
}

/// One heavy job per core.
fn default_heavy_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Shard names: letters, digits, `-` and `_`, at most 64 of them (match ids carry the index).
fn match_shards(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    let raw = raw.unwrap_or_else(|| "global".to_owned());
    let shards: Vec<String> = raw.split(',').map(|s| s.trim().to_owned()).collect();
    let valid = |s: &String| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if shards.is_empty() || shards.len() > 64 || !shards.iter().all(valid) {
        return Err(ConfigError::Invalid {
            name: "MATCH_SHARDS",
            reason: "a comma-separated list of 1 to 64 names of [A-Za-z0-9_-]".into(),
        });
    }
    Ok(shards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_source(&move |k: &str| map.get(k).cloned())
    }

    #[test]
    fn production_requires_jwt_secret_and_sms_provider() {
        let err = config(&[("APP_ENV", "production")]).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::RequiredInProduction("JWT_SECRET")
        ));
        let secret = "x".repeat(32);
        let err = config(&[("APP_ENV", "production"), ("JWT_SECRET", &secret)]).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::RequiredInProduction("SMS_PROVIDER_URL")
        ));
        let err = config(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", &secret),
            ("SMS_PROVIDER_URL", "http://127.0.0.1:1/send"),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::RequiredInProduction("PAYMENT_VERIFIER_URL")
        ));
        let ok = config(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", &secret),
            ("SMS_PROVIDER_URL", "http://127.0.0.1:1/send"),
            ("PAYMENT_VERIFIER_URL", "http://127.0.0.1:1/verify"),
        ]);
        assert!(ok.unwrap().is_production());
    }

    #[test]
    fn debug_output_masks_secrets() {
        let cfg = config(&[
            ("JWT_SECRET", "super-secret-value"),
            ("DATABASE_URL", "postgres://app:hunter2@db:5432/x"),
            ("SMS_PROVIDER_KEY", "key-123"),
            ("TURN_SECRET", "turn-456"),
            ("PAYMENT_VERIFIER_KEY", "pay-789"),
        ])
        .unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("super-secret-value"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("key-123"));
        assert!(!shown.contains("turn-456"));
        assert!(!shown.contains("pay-789"));
        // every section is shown, its secrets masked
        for section in [
            "matching:",
            "talk:",
            "calls:",
            "payments:",
            "turn_secret: Some",
            "verifier_key: Some",
        ] {
            assert!(shown.contains(section), "{section} missing from {shown}");
        }
        assert!(shown.contains("postgres://app:***@db:5432/x"));
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let err = config(&[("MIN_AGE", "abc")]).unwrap_err();
        assert!(err.to_string().starts_with("MIN_AGE is invalid"));
        let err = config(&[("FILTER_MATCH_GEM_COST", "-1")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("FILTER_MATCH_GEM_COST is invalid")
        );
    }
}
