//! Sending a text message. Production uses `HttpSms` (a provider reached by
//! URL and key); development without a provider uses `LogOnlySms`, which
//! sends nothing (the code is in the API response there).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// Delivers `text` to `phone`; the error says why not (never the text).
    async fn send(&self, phone: &str, text: &str) -> Result<(), String>;
}

pub struct LogOnlySms;

#[async_trait::async_trait]
impl SmsSender for LogOnlySms {
    async fn send(&self, _phone: &str, _text: &str) -> Result<(), String> {
        tracing::info!("development mode: verification SMS not sent");
        Ok(())
    }
}

/// POSTs `{"to": phone, "text": text}` with `Authorization: Bearer <key>`;
/// any 2xx is delivered.
pub struct HttpSms {
    client: reqwest::Client,
    url: String,
    key: Option<SecretString>,
}

impl HttpSms {
    pub fn new(url: String, key: Option<SecretString>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain reqwest client builds");
        HttpSms { client, url, key }
    }
}

#[async_trait::async_trait]
impl SmsSender for HttpSms {
    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({"to": phone, "text": text}));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("sms provider: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("sms provider answered {}", response.status()))
        }
    }
}
