//! Redis: the connection pool, every key name (`keys`) and the Lua scripts (`scripts`).
//!
//! A fred command's future is about 5 KB. On a request's path it is awaited
//! boxed (`Box::pin`): awaited inline, it would grow every future around it,
//! up to the route's, which is allocated and copied whole on every request.

mod args;
pub mod keys;
pub mod scripts;

use fred::prelude::*;
use fred::types::{MultipleKeys, MultipleValues};

pub use args::Args;
pub use keys::{Keys, PoolKeys};
pub use scripts::{Function, Scripts};

use crate::config::Config;

/// The pool, the key names and the loaded scripts, shared by every request.
#[derive(Clone)]
pub struct Redis {
    pub pool: Pool,
    pub keys: Keys,
    pub scripts: std::sync::Arc<Scripts>,
    /// A Redis Cluster: keys of one script share a slot, events use sharded channels.
    pub clustered: bool,
    /// The keys of each pool shard, in `MATCH_SHARDS` order.
    pub pools: std::sync::Arc<[PoolKeys]>,
    /// See `events_channel`.
    channel: std::sync::Arc<str>,
}

impl Redis {
    pub async fn connect(cfg: &Config) -> Result<Self, fred::error::Error> {
        let config = fred::types::config::Config::from_url(cfg.redis_url.expose_secret())?;
        let clustered = config.server.is_clustered();
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = std::time::Duration::from_secs(5);
                // at most once: a command whose connection dropped before its
                // answer may have run, and after a failover a second run would
                // land on a replica that lacks the first one's writes (a
                // pairing done twice with one match id); the caller answers 503
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = std::time::Duration::from_secs(5);
            })
            .set_policy(reconnect_policy())
            .build_pool(cfg.redis_pool_size)?;
        for client in pool.clients() {
            tokio::spawn(keep_running(client.clone(), client.init().await?));
        }
        let scripts = Scripts::default();
        scripts.load_all(pool.next()).await?;
        let keys = Keys::new(&cfg.redis_prefix);
        let channel = if clustered {
            String::new()
        } else {
            keys.events_channel()
        };
        Ok(Redis {
            pool,
            pools: keys.pools(&cfg.matching.shards).into(),
            channel: channel.into(),
            keys,
            scripts: std::sync::Arc::new(scripts),
            clustered,
        })
    }

    /// The channel events are published on: the one broadcast channel of a
    /// single Redis, or '' on a Cluster (each user's own sharded channel).
    pub fn events_channel(&self) -> &str {
        &self.channel
    }

    /// Runs a script by SHA on the next pooled connection, loading it again
    /// if the server forgot it (restart, `SCRIPT FLUSH`, failover).
    pub async fn run<R, K, V>(
        &self,
        script: &fred::types::scripts::Script,
        keys: K,
        args: V,
    ) -> Result<R, fred::error::Error>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Clone + Send,
        V: TryInto<MultipleValues> + Clone + Send,
        V::Error: Into<fred::error::Error> + Send,
    {
        Self::run_on(self.pool.next(), script, || (keys.clone(), args.clone())).await
    }

    /// `run` on a given connection (a `WAIT` after it must follow on the same),
    /// with the keys and arguments `build` makes: once, and again only if the
    /// script has to be loaded. (fred's `evalsha_with_reload` copies them before
    /// every call, to have them for that rare second try: a few dozen
    /// allocations a call on the match cycle.)
    pub async fn run_on<R, K, V>(
        client: &Client,
        script: &fred::types::scripts::Script,
        build: impl Fn() -> (K, V),
    ) -> Result<R, fred::error::Error>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Send,
        V: TryInto<MultipleValues> + Send,
        V::Error: Into<fred::error::Error> + Send,
    {
        let run = |keys, args| client.evalsha(script.sha1().clone(), keys, args);
        run_loading(build, run, "NOSCRIPT", || script.load(client)).await
    }

    /// Calls a function of the matching library on `client`, with the keys and
    /// arguments `build` makes: once, and again only if Redis lost the library
    /// (a restart without persistence, `FUNCTION FLUSH`, a new empty master).
    pub async fn call_on<R, K, V>(
        &self,
        client: &Client,
        function: &Function,
        build: impl Fn() -> (K, V),
    ) -> Result<R, fred::error::Error>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Send,
        V: TryInto<MultipleValues> + Send,
        V::Error: Into<fred::error::Error> + Send,
    {
        let run = |keys, args| client.fcall(function.name.as_str(), keys, args);
        let load = || self.scripts.library.load(client);
        run_loading(build, run, "Function not found", load).await
    }
}

/// Runs code kept in Redis (`run`) with the keys and arguments `build` makes:
/// once, and again after `load` only if Redis answered that the code is
/// `missing`. (`load` makes its future only then: held from the start, fred's
/// would grow every caller's future by kilobytes.)
async fn run_loading<R, K, V, F, L>(
    build: impl Fn() -> (K, V),
    run: impl Fn(K, V) -> F,
    missing: &str,
    load: impl Fn() -> L,
) -> Result<R, fred::error::Error>
where
    F: Future<Output = Result<R, fred::error::Error>>,
    L: Future<Output = Result<(), fred::error::Error>>,
{
    let (keys, args) = build();
    match Box::pin(run(keys, args)).await {
        Err(e) if e.details().contains(missing) => {
            Box::pin(load()).await?;
            let (keys, args) = build();
            Box::pin(run(keys, args)).await
        }
        result => result,
    }
}

/// Starts a pooled client again whenever its router stops with an error:
/// with one attempt per command, fred 10.1 stops the router on an `ASK`
/// redirection (a slot being migrated), and a stopped client would time out
/// every command the pool hands it. Ends when the client quits.
async fn keep_running(client: Client, mut router: fred::types::ConnectHandle) {
    loop {
        match router.await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => tracing::error!(error = %e, "a Redis client stopped; starting it again"),
            Err(e) => tracing::error!(error = %e, "a Redis client's task ended; starting it again"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        router = client.connect();
    }
}

/// Reconnect forever, at most 0.5 s apart: after a failover the nodes follow
/// the promoted replica within half a second, while the requests waiting for
/// it have the rest of their 5 s time-out (with 2 s apart, a Cluster master
/// promoted after 3.5 s was reached only after 5.1 s: every waiting request failed).
pub fn reconnect_policy() -> ReconnectPolicy {
    ReconnectPolicy::new_exponential(0, 100, 500, 2)
}

/// The text at `i` of a script's reply ('' when missing).
pub fn reply_text(reply: &[Value], i: usize) -> String {
    reply.get(i).and_then(|v| v.as_string()).unwrap_or_default()
}

/// The integer at `i` of a script's reply (0 when missing).
pub fn reply_int(reply: &[Value], i: usize) -> i64 {
    reply.get(i).and_then(Value::as_i64).unwrap_or_default()
}
