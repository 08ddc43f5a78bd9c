//! An outside provider the server calls (SMS, push, payment verification):
//! JSON POSTed to one URL, with `Authorization: Bearer <key>` when a key is set.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

pub struct Provider {
    client: reqwest::Client,
    url: String,
    key: Option<SecretString>,
}

impl Provider {
    /// A provider at `url` whose calls give up after `timeout`.
    pub fn new(url: String, key: Option<SecretString>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("a plain reqwest client builds");
        Provider { client, url, key }
    }

    /// Sends `body` once; the caller reads the answer.
    pub async fn post(&self, body: &impl Serialize) -> reqwest::Result<reqwest::Response> {
        let mut request = self.client.post(&self.url).json(body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose_secret());
        }
        request.send().await
    }
}
