//! `spawn_app()`: a real server on a free port with its own Postgres schema,
//! Redis key prefix and media folder, so that tests run in parallel against
//! the real Redis and Postgres that `scripts/dev.sh test` provides.

use std::collections::HashMap;

use fred::prelude::ClientLike;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use voxmatch::config::Config;
use voxmatch::startup::Application;
use voxmatch::state::AppState;

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://voxmatch:voxmatch@127.0.0.1:15432/voxmatch_test".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:16379".into())
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

pub struct TestApp {
    pub url: String,
    pub client: Client,
    pub state: AppState,
    pub schema: String,
    pub prefix: String,
    pub media: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _media: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A folder removed when the test ends.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A server whose configuration is the test defaults plus `vars`.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let schema = unique("t_");
    let prefix = format!("{}:", unique("t"));
    spawn_into(&schema, &prefix, vars).await
}

/// Another node of the same deployment: same schema, same Redis prefix.
pub async fn spawn_node(of: &TestApp, vars: &[(&str, &str)]) -> TestApp {
    spawn_into(&of.schema, &of.prefix, vars).await
}

/// Logs go through the test harness (shown for failing tests); `RUST_LOG` widens them.
fn init_test_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,warp::filters::trace=off"));
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(filter)
        .try_init();
}

fn test_env(schema: &str, prefix: &str, media: &std::path::Path) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url()),
        ("REDIS_URL", redis_url()),
        ("DB_SCHEMA", schema.to_owned()),
        ("REDIS_KEY_PREFIX", prefix.to_owned()),
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("MEDIA_DIR", media.display().to_string()),
        ("DB_MAX_CONNECTIONS", "5".to_owned()),
        ("REDIS_POOL_SIZE", "2".to_owned()),
        (
            "JWT_SECRET",
            "test-secret-test-secret-test-secret!".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn spawn_into(schema: &str, prefix: &str, vars: &[(&str, &str)]) -> TestApp {
    init_test_logging();
    let mut admin = sqlx::PgConnection::connect(&database_url())
        .await
        .expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&mut admin)
    .await
    .expect("create schema");
    let media = TempDir(std::env::temp_dir().join(unique("voxmatch-media-")));
    let mut env = test_env(schema, prefix, &media.0);
    for (k, v) in vars {
        env.insert(k.to_string(), v.to_string());
    }
    let cfg = Config::from_source(&move |k: &str| env.get(k).cloned()).expect("test config");
    let app = Application::build(cfg).await.expect("app starts");
    let url = format!("http://{}", app.addr());
    let state = app.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        client: Client::builder().no_proxy().build().unwrap(),
        state,
        schema: schema.to_owned(),
        prefix: prefix.to_owned(),
        media: media.0.clone(),
        stop: Some(stop),
        _media: media,
    }
}

/// A response's status and JSON body.
pub async fn parts(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub fn validation(details: &str) -> Value {
    json!({"error": "Validation error", "code": "validation_error", "details": details})
}

/// A signed-up user of the matching document.
pub struct User {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

pub fn signup_form(username: &str, password: &str, age: &str, gender: &str) -> Form {
    Form::new()
        .text("username", username.to_owned())
        .text("password", password.to_owned())
        .text("age", age.to_owned())
        .text("gender", gender.to_owned())
}

impl TestApp {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.get(self.at(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        parts(req.send().await.unwrap()).await
    }

    /// Logs the user's session out (their access and refresh tokens).
    pub async fn logout(&self, user: &User) -> (StatusCode, Value) {
        self.post(
            "/api/auth/logout/",
            Some(&user.access),
            &json!({"refresh": user.refresh}),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.at(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        parts(req.send().await.unwrap()).await
    }

    /// `DELETE` with a JSON body (account deletion, push tokens).
    pub async fn delete(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let req = self
            .client
            .delete(self.at(path))
            .bearer_auth(token)
            .json(body);
        parts(req.send().await.unwrap()).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.at(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        parts(res).await
    }

    pub async fn signup_raw(&self, form: Form) -> (StatusCode, Value) {
        parts(
            self.client
                .post(self.at("/api/auth/signup/"))
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Signs up a fresh user (male, 25 unless the form says otherwise).
    pub async fn signup(&self) -> User {
        self.signup_as(&unique("u"), "male", 25).await
    }

    pub async fn signup_as(&self, username: &str, gender: &str, age: i32) -> User {
        let password = "correct horse".to_owned();
        let (status, body) = self
            .signup_raw(signup_form(username, &password, &age.to_string(), gender))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        User {
            id: body["user_id"].as_i64().unwrap(),
            username: username.to_owned(),
            password,
            access: body["access"].as_str().unwrap().to_owned(),
            refresh: body["refresh"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/api/auth/login/",
            None,
            &json!({"username": username, "password": password}),
        )
        .await
    }
}

pub fn image_part(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_owned())
}

/// A real `voxmatch` process on a free port, sharing `of`'s schema and Redis prefix.
pub struct Process {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush, nothing finished.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit; true when it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

pub async fn spawn_process(of: &TestApp) -> Process {
    spawn_process_logging(of, None).await
}

/// A process whose logs (JSON lines, at `info`) go to `log` when given.
pub async fn spawn_process_logging(of: &TestApp, log: Option<&std::path::Path>) -> Process {
    start_process(of, log, &[]).await
}

/// A process started with extra environment variables.
pub async fn spawn_process_with(of: &TestApp, vars: &[(&str, &str)]) -> Process {
    start_process(of, None, vars).await
}

async fn start_process(
    of: &TestApp,
    log: Option<&std::path::Path>,
    vars: &[(&str, &str)],
) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (level, output) = match log {
        Some(path) => (
            "info",
            std::process::Stdio::from(std::fs::File::create(path).unwrap()),
        ),
        None => ("warn", std::process::Stdio::null()),
    };
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_voxmatch"))
        .envs(test_env(&of.schema, &of.prefix, &of.media))
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", level)
        .env("LOG_FORMAT", "json")
        .envs(vars.iter().copied())
        .stdout(output)
        .spawn()
        .expect("the voxmatch binary starts");
    let process = Process {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // migrations wait their turn behind other nodes' (tests start many at once)
    for _ in 0..300 {
        if let Ok(res) = reqwest::get(format!("{}/readyz", process.url)).await
            && res.status().is_success()
        {
            return process;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("voxmatch process did not become ready");
}

/// A user made straight in the database (no argon2), with a live session:
/// for tests that need many users.
pub struct Member {
    pub id: i64,
    pub username: String,
    pub token: String,
}

pub async fn member(app: &TestApp, gender: &str, age: i32) -> Member {
    let username = unique("m");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, age, gender) VALUES ($1, 'x', $2, $3) RETURNING id",
    )
    .bind(&username)
    .bind(age)
    .bind(gender)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let tokens = app
        .state
        .tokens
        .start_session(&app.state.redis, id)
        .await
        .unwrap();
    Member {
        id,
        username,
        token: tokens.access,
    }
}

pub async fn grant_gems(app: &TestApp, uid: i64, gems: i64) {
    let reference = unique("grant");
    let credited =
        voxmatch::gems::ledger::credit(&app.state.db, uid, gems, "test_grant", &reference)
            .await
            .unwrap();
    assert!(credited);
    app.state.users_changed(&[uid]).await;
}

/// Saves `m`'s matching settings, which must be accepted.
pub async fn settings(app: &TestApp, m: &Member, body: Value) {
    let (status, answer) = app.settings(&m.token, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Asserts that `m` finds nobody now, and takes them out of the pool again.
pub async fn finds_nobody(app: &TestApp, m: &Member) {
    let (status, body) = app.random(&m.token, 0).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{} was paired: {body}",
        m.username
    );
    app.cancel(&m.token).await;
}

impl TestApp {
    pub async fn settings(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.post("/api/match/settings/", Some(token), &body).await
    }

    pub async fn random(&self, token: &str, wait: u64) -> (StatusCode, Value) {
        self.get(&format!("/api/match/random/?wait={wait}"), Some(token))
            .await
    }

    pub async fn decide(&self, token: &str, match_id: i64, decision: &str) -> (StatusCode, Value) {
        self.post(
            "/api/match/decision/",
            Some(token),
            &json!({"match_id": match_id, "decision": decision}),
        )
        .await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self.client.get(self.at("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// The value of a counter in the node's `/metrics`.
    pub async fn counter(&self, name: &str) -> f64 {
        let metrics = self.metrics().await;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .map_or(0.0, |v| v.parse().unwrap())
    }

    pub async fn cancel(&self, token: &str) -> (StatusCode, Value) {
        self.post("/api/match/cancel/", Some(token), &json!({}))
            .await
    }
}

/// Polls every unmatched user again until nobody new is matched (users
/// paired after their long poll answered get the match on the next poll);
/// returns each matched user's (partner, match id).
pub async fn settle(
    app: &TestApp,
    users: &[&Member],
    mut matched: HashMap<i64, (i64, i64)>,
) -> HashMap<i64, (i64, i64)> {
    for _round in 0..5 {
        let mut changed = false;
        let waiting: Vec<&&Member> = users
            .iter()
            .filter(|m| !matched.contains_key(&m.id))
            .collect();
        for m in waiting {
            let (status, body) = app.random(&m.token, 0).await;
            if status == StatusCode::OK {
                let partner = body["matched_user"]["id"].as_i64().unwrap();
                matched.insert(m.id, (partner, body["match_id"].as_i64().unwrap()));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    matched
}

/// How a stand-in server answers.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay_ms: u64,
}

/// What a stand-in received: each request's Authorization header and JSON body.
pub type Received = std::sync::Arc<tokio::sync::Mutex<Vec<(Option<String>, Value)>>>;

/// A stand-in for a third-party HTTP API (SMS provider, payment verifier):
/// records every request (its Authorization header and JSON body) and answers
/// with whatever `reply` holds.
pub struct StandIn {
    pub url: String,
    pub received: Received,
    pub reply: std::sync::Arc<std::sync::Mutex<Reply>>,
}

pub async fn stand_in(status: u16, body: &str) -> StandIn {
    use warp::Filter;
    let received: Received = Default::default();
    let reply = std::sync::Arc::new(std::sync::Mutex::new(Reply {
        status,
        body: body.to_owned(),
        delay_ms: 0,
    }));
    let (r, answer) = (received.clone(), reply.clone());
    let route = warp::post()
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json())
        .then(move |auth: Option<String>, body: Value| {
            let (r, answer) = (r.clone(), answer.clone());
            async move {
                r.lock().await.push((auth, body));
                let reply = answer.lock().unwrap().clone();
                tokio::time::sleep(std::time::Duration::from_millis(reply.delay_ms)).await;
                let status = warp::http::StatusCode::from_u16(reply.status).unwrap();
                warp::reply::with_status(reply.body, status)
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route).incoming(listener).run());
    StandIn {
        url,
        received,
        reply,
    }
}

impl StandIn {
    pub fn answer(&self, status: u16, body: &str, delay_ms: u64) {
        *self.reply.lock().unwrap() = Reply {
            status,
            body: body.to_owned(),
            delay_ms,
        };
    }
}

/// Two members paired and matched (both accepted); returns them and the match id.
pub async fn matched(app: &TestApp) -> (Member, Member, i64) {
    let a = member(app, "female", 24).await;
    let b = member(app, "male", 31).await;
    app.random(&a.token, 0).await;
    let (status, body) = app.random(&b.token, 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["match_id"].as_i64().unwrap();
    let (ra, rb) = tokio::join!(
        app.decide(&a.token, id, "accept"),
        app.decide(&b.token, id, "accept")
    );
    assert_eq!(
        (ra.1["status"].as_str(), rb.1["status"].as_str()),
        (Some("matched"), Some("matched"))
    );
    (a, b, id)
}

impl TestApp {
    pub async fn start_call(&self, token: &str, match_id: i64) -> (StatusCode, Value) {
        self.post(
            "/api/call/start/",
            Some(token),
            &json!({"match_id": match_id}),
        )
        .await
    }

    pub async fn end_call(&self, token: &str, session: &str) -> (StatusCode, Value) {
        self.post(
            "/api/call/end/",
            Some(token),
            &json!({"call_session_id": session}),
        )
        .await
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `/ws` of the server at `base`, with the token in the query.
pub async fn websocket(base: &str, token: &str) -> Socket {
    let url = format!("{}/ws?token={token}", base.replacen("http", "ws", 1));
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

/// The next JSON event of a socket whose `type` is `kind` (others skipped),
/// without its `event_id`.
pub async fn next_event(socket: &mut Socket, kind: &str) -> Value {
    use futures_util::StreamExt;
    let wait = async {
        while let Some(message) = socket.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message.unwrap() {
                let mut event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == kind {
                    // the id a client resumes after (tested in realtime.rs); the rest is the event
                    if let Some(fields) = event.as_object_mut() {
                        fields.remove("event_id");
                    }
                    return event;
                }
            }
        }
        panic!("socket closed before {kind}");
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wait)
        .await
        .expect("event in time")
}

/// Raw bytes of an HTTP/1.1 request.
pub fn http_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends a request and hangs up `after` it was sent, never reading the answer:
/// a phone that loses its network mid-request.
pub async fn hang_up(base: &str, request: Vec<u8>, after: std::time::Duration) {
    let addr = base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        socket.write_all(&request).unwrap();
        std::thread::sleep(after);
        let _ = socket.shutdown(std::net::Shutdown::Both);
    })
    .await
    .unwrap();
}

/// Connections of this test's server(s) that sit inside a transaction.
pub async fn connections_in_transaction(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(format!("voxmatch/{}", app.schema))
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// What `probe` gives once `done` holds of it, polled every 50 ms for at most 20 s
/// (then its last value, for the caller's assertion to show). For what the server
/// does in the background (housekeeping, refunds, events), on a machine that may
/// be slow or busy: a test waits for the outcome, never for a fixed time.
pub async fn eventually<T, F, Fut>(mut probe: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let value = probe().await;
        if done(&value) || std::time::Instant::now() > limit {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A user's balance, and the sum of their ledger: always equal.
pub async fn balance_and_ledger(app: &TestApp, uid: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT u.gems, COALESCE((SELECT sum(delta)::int8 FROM gem_ledger WHERE user_id = u.id), 0)
         FROM users u WHERE u.id = $1",
    )
    .bind(uid)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// Peak resident memory of a process (`VmHWM`), in MB.
pub fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    kb / 1024
}

/// A TCP relay to `upstream` that holds every chunk for `delay` each way: a
/// slow network between the server and Postgres, so that each query leaves a
/// wide window in which a request can be abandoned. Returns the relay's address.
pub async fn slow_link(upstream: &str, delay: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_owned();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let pipe = |mut from: tokio::net::tcp::OwnedReadHalf,
                        mut to: tokio::net::tcp::OwnedWriteHalf| async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = from.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if to.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = to.shutdown().await;
            };
            tokio::spawn(pipe(cr, sw));
            tokio::spawn(pipe(sr, cw));
        }
    });
    addr
}

/// The server's own Redis client (one pooled connection) against `url`, and a
/// script that counts its runs in a key.
pub struct RunCounter {
    redis: voxmatch::redis::Redis,
    script: fred::types::scripts::Script,
}

impl RunCounter {
    pub async fn connect(url: &str) -> Self {
        let cfg = Config::from_source(&|k: &str| match k {
            "REDIS_URL" => Some(url.to_owned()),
            "REDIS_POOL_SIZE" => Some("1".into()),
            _ => None,
        })
        .unwrap();
        RunCounter {
            redis: voxmatch::redis::Redis::connect(&cfg).await.unwrap(),
            script: fred::types::scripts::Script::from_lua("return redis.call('INCR', KEYS[1])"),
        }
    }

    /// Runs the script on `key`: how many times it ran there.
    pub async fn run(&self, key: &str) -> Result<i64, fred::error::Error> {
        self.redis
            .run(&self.script, key, Vec::<String>::new())
            .await
    }
}

/// A TCP relay to `upstream` that, while the returned switch is on, loses the
/// server's next answer: it closes that connection instead of passing the
/// answer on (and turns the switch off). The command ran; its client never
/// hears so. Returns the relay's address and the switch.
pub async fn lossy_link(upstream: &str) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let lose = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (upstream, switch) = (upstream.to_owned(), lose.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
            let lose = lose.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 || lose.swap(false, Ordering::SeqCst) {
                        break;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                // dropping both halves closes the client's side
                let _ = cw.shutdown().await;
            });
        }
    });
    (addr, switch)
}

/// Every key of this test's Redis prefix matching `pattern` (after the prefix),
/// on a single Redis or on every master of a Cluster.
pub async fn redis_keys(app: &TestApp, pattern: &str) -> Vec<String> {
    let client = app.state.redis.pool.next();
    let nodes = if app.state.redis.clustered {
        client.split_cluster().unwrap()
    } else {
        vec![client.clone()]
    };
    let mut keys = Vec::new();
    for node in nodes {
        if app.state.redis.clustered {
            node.init().await.unwrap();
        }
        let found: Vec<String> = node
            .custom(fred::cmd!("KEYS"), vec![format!("{}{pattern}", app.prefix)])
            .await
            .unwrap();
        keys.extend(found);
    }
    keys
}

/// Deletes keys one by one (they may live in different slots of a Cluster).
pub async fn delete_keys(app: &TestApp, keys: &[String]) {
    use fred::prelude::KeysInterface;
    for key in keys {
        let _: i64 = app.state.redis.pool.del(key).await.unwrap();
    }
}
