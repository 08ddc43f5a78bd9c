//! `spawn_app()`: a real server on a free port with its own Postgres schema,
//! Redis key prefix and media folder, so that tests run in parallel against
//! the real Redis and Postgres that `scripts/dev.sh test` provides.

use std::collections::HashMap;

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
    pub prefix: String,
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

async fn spawn_into(schema: &str, prefix: &str, vars: &[(&str, &str)]) -> TestApp {
    voxmatch::telemetry::init();
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
    let mut env: HashMap<String, String> = [
        ("DATABASE_URL", database_url()),
        ("REDIS_URL", redis_url()),
        ("DB_SCHEMA", schema.to_owned()),
        ("REDIS_KEY_PREFIX", prefix.to_owned()),
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("MEDIA_DIR", media.0.display().to_string()),
        ("DB_MAX_CONNECTIONS", "5".to_owned()),
        ("REDIS_POOL_SIZE", "2".to_owned()),
        (
            "JWT_SECRET",
            "test-secret-test-secret-test-secret!".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
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
        prefix: prefix.to_owned(),
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
    json!({"error": "Validation error", "details": details})
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

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.at(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
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
