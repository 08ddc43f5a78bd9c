//! Sending a text message. Production uses `HttpSms` (a provider reached by
//! URL and key); development without a provider uses `LogOnlySms`, which
//! sends nothing (the code is in the API response there).

use std::time::Duration;

use secrecy::SecretString;

use crate::http::provider::Provider;

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
pub struct HttpSms(Provider);

impl HttpSms {
    pub fn new(url: String, key: Option<SecretString>) -> Self {
        HttpSms(Provider::new(url, key, Duration::from_secs(5)))
    }
}

#[async_trait::async_trait]
impl SmsSender for HttpSms {
    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        let response = self
            .0
            .post(&serde_json::json!({"to": phone, "text": text}))
            .await
            .map_err(|e| format!("sms provider: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("sms provider answered {}", response.status()))
        }
    }
}
