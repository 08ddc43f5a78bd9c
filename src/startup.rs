//! Builds the application from a `Config`: pools, migrations, scripts,
//! routes; binds (port 0 works, for tests) and serves until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::config::Config;
use crate::gems::payments::{HttpVerifier, PaymentVerifier, TestTokens};
use crate::heavy::HeavyJobs;
use crate::matching::engine::Tickets;
use crate::matching::ids::MatchIds;
use crate::media::storage::{Storage, StorageError};
use crate::ops::metrics::Metrics;
use crate::realtime::bus::Invalidation;
use crate::redis::Redis;
use crate::session::Tokens;
use crate::sms::provider::{HttpSms, LogOnlySms, SmsSender};
use crate::state::{App, AppState};
use crate::{
    admin, auth, broadcasts, calls, conversations, demo, gems, history, http, matching, media,
    moderation, ops, realtime, sms, telemetry, users,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

pub struct Application {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    routes: BoxedFilter<(Response,)>,
    pub state: AppState,
}

/// How long a node waits for a Postgres connection (the pool's, the migrations').
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where Postgres is and how this node appears in `pg_stat_activity` (tests:
/// with their schema).
fn postgres_options(cfg: &Config) -> Result<PgConnectOptions, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(cfg.database_url.expose_secret())?;
    if let Some(schema) = &cfg.db_schema {
        options = options.options([("search_path", schema.as_str())]);
    }
    Ok(options.application_name(&format!(
        "voxmatch{}",
        cfg.db_schema
            .as_deref()
            .map_or(String::new(), |s| format!("/{s}"))
    )))
}

pub async fn connect_postgres(cfg: &Config) -> Result<PgPool, sqlx::Error> {
    // backstops: no statement runs for ever, no session sits in a transaction for ever
    let statement = cfg.db_statement_timeout_ms.to_string();
    let idle = cfg.db_idle_in_transaction_timeout_ms.to_string();
    let options = postgres_options(cfg)?.options([
        ("statement_timeout", statement.as_str()),
        ("idle_in_transaction_session_timeout", idle.as_str()),
    ]);
    PgPoolOptions::new()
        .max_connections(cfg.db_max_connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
}

/// Applies the migrations on a connection of their own, without the pool's
/// `statement_timeout`: nodes that start together wait in turn for sqlx's
/// migration lock (one per database), and a migration that builds an index
/// on a large table takes what it takes.
pub async fn migrate(cfg: &Config) -> Result<(), StartupError> {
    // as long as the pool waits for a connection
    let options = postgres_options(cfg)?;
    let mut connection = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connecting to Postgres timed out",
            ))
        })??;
    sqlx::migrate!("./migrations").run(&mut connection).await?;
    // the migrations are in; a failed goodbye only drops the socket
    let _ = connection.close().await;
    Ok(())
}

impl Application {
    pub async fn build(cfg: Config) -> Result<Self, StartupError> {
        migrate(&cfg).await?;
        let db = connect_postgres(&cfg).await?;
        let redis = Redis::connect(&cfg).await?;
        let sms: Arc<dyn SmsSender> = match &cfg.sms_provider_url {
            Some(url) => Arc::new(HttpSms::new(url.clone(), cfg.sms_provider_key.clone())),
            None => Arc::new(LogOnlySms),
        };
        let payments: Arc<dyn PaymentVerifier> = match &cfg.payments.verifier_url {
            Some(url) => Arc::new(HttpVerifier::new(
                url.clone(),
                cfg.payments.verifier_key.clone(),
                Duration::from_millis(cfg.payments.verifier_timeout_ms),
            )),
            None => Arc::new(TestTokens),
        };
        let storage = Storage::from_config(&cfg)?;
        let (openapi, route_patterns) = ops::openapi::document();
        let metrics = Metrics::new(route_patterns);
        let redis_config = fred::types::config::Config::from_url(cfg.redis_url.expose_secret())?;
        let tokens = Arc::new(Tokens::new(&cfg));
        let tickets = Arc::new(Tickets::new(
            Duration::from_millis(cfg.matching.candidate_cache_ms),
            100_000,
        ));
        let forget = {
            let (tokens, tickets) = (tokens.clone(), tickets.clone());
            Arc::new(move |what: Invalidation| match what {
                Invalidation::Session(session) => tokens.forget(&session),
                Invalidation::Users(uids) => uids.iter().for_each(|uid| tickets.remove(uid)),
                Invalidation::All => {
                    tokens.forget_all();
                    tickets.clear();
                }
            })
        };
        let hub = crate::realtime::reader::start(
            redis_config,
            redis.clone(),
            metrics.bus.clone(),
            forget,
            cfg.event_bus_buffer,
        )
        .await?;
        let (push, push_jobs) = crate::push::outbox::Outbox::new(&cfg.push, metrics.push.clone());
        let listener = tokio::net::TcpListener::bind(cfg.bind_addr)
            .await
            .map_err(|e| StartupError::Bind(cfg.bind_addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(cfg.bind_addr, e))?;
        let public_url = cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let state: AppState = Arc::new(App {
            public_url,
            tokens,
            tickets,
            storage,
            metrics,
            hub,
            match_ids: MatchIds::default(),
            stopping: tokio::sync::watch::channel(false).0,
            sms,
            payments,
            push,
            heavy: HeavyJobs::new(cfg.heavy_jobs, cfg.heavy_queue),
            db,
            redis,
            cfg,
        });
        matching::tasks::spawn(state.clone(), state.stopping.subscribe());
        calls::tasks::spawn(state.clone(), state.stopping.subscribe());
        broadcasts::tasks::spawn_cleanup(state.clone(), state.stopping.subscribe());
        crate::presence::tasks::spawn(state.clone(), state.stopping.subscribe());
        if let Some(jobs) = push_jobs {
            crate::push::worker::spawn(state.clone(), jobs, state.stopping.subscribe());
        }
        let routes = routes(state.clone(), openapi.into());
        Ok(Application {
            listener,
            addr,
            routes,
            state,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then lets open requests finish:
    /// long polls answer at once, event streams close, background tasks end.
    /// Waiting users stay in the pool; if they do not come back through
    /// another node, the ghost timeout takes them out.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        tracing::info!(addr = %self.addr, "serving");
        let state = self.state.clone();
        let stop = async move {
            shutdown.await;
            state.hub.close();
            let _ = state.stopping.send(true);
        };
        warp::serve(self.routes)
            .incoming(self.listener)
            .graceful(stop)
            .run()
            .await;
        self.state.hub.bus().stop().await;
        tracing::info!("stopped");
    }
}

/// Every route of the API, the one `recover`, and per-request bookkeeping
/// (request id header, tracing span, metrics).
pub fn routes(state: AppState, openapi: bytes::Bytes) -> BoxedFilter<(Response,)> {
    // warp tries routes in order: the match cycle's first
    let api = matching::routes(state.clone())
        .or(auth::routes(state.clone()))
        .unify()
        .or(sms::routes(state.clone()))
        .unify()
        .or(users::routes(state.clone()))
        .unify()
        .or(gems::routes(state.clone()))
        .unify()
        .or(calls::routes(state.clone()))
        .unify()
        .or(history::routes(state.clone()))
        .unify()
        .or(broadcasts::routes(state.clone()))
        .unify()
        .or(conversations::routes(state.clone()))
        .unify()
        .or(moderation::routes(state.clone()))
        .unify()
        .or(crate::presence::routes(state.clone()))
        .unify()
        .or(crate::push::routes(state.clone()))
        .unify()
        .or(admin::routes(state.clone()))
        .unify()
        .or(realtime::routes(state.clone()))
        .unify()
        .or(media::routes(state.clone()))
        .unify()
        .or(demo::routes())
        .unify()
        .or(ops::routes(state.clone(), openapi))
        .unify()
        .recover(http::recover)
        .unify();
    let start = warp::method().and(warp::path::full()).map(|method, path| {
        let id = telemetry::request_id();
        tracing::Span::current().record("request_id", id.as_str());
        (id, method, path, Instant::now())
    });
    start
        .and(api)
        .map(
            move |(id, method, path, started): (
                String,
                warp::http::Method,
                warp::path::FullPath,
                Instant,
            ),
                  mut res: Response| {
                let status = res.status();
                let elapsed = started.elapsed();
                state.metrics.observe(
                    path.as_str(),
                    method.as_str(),
                    status,
                    elapsed.as_secs_f64(),
                );
                tracing::info!(
                    status = status.as_u16(),
                    latency_ms = elapsed.as_secs_f64() * 1e3,
                    "request"
                );
                if let Ok(value) = warp::http::HeaderValue::from_str(&id) {
                    res.headers_mut().insert("x-request-id", value);
                }
                res
            },
        )
        .with(warp::trace(|info| {
            tracing::info_span!(
                "http",
                method = %info.method(),
                path = %info.path(),
                request_id = tracing::field::Empty,
                user_id = tracing::field::Empty,
            )
        }))
        .map(warp::Reply::into_response)
        .boxed()
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
