//! STUN/TURN servers for WebRTC, with time-limited TURN credentials in the
//! TURN REST API scheme: username `<expiry unix time>:<user id>`, credential
//! base64(HMAC-SHA1(shared secret, username)) — what coturn's
//! `use-auth-secret` checks.

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::Serialize;
use sha1::Sha1;

use crate::config::CallConfig;

#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// Seconds the TURN credentials stay valid.
    pub ttl: u64,
}

pub fn turn_credential(secret: &str, username: &str) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn servers(cfg: &CallConfig, uid: i64, now_unix: i64) -> IceServers {
    let mut ice_servers = Vec::new();
    if !cfg.stun_urls.is_empty() {
        ice_servers.push(IceServer {
            urls: cfg.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    if let (false, Some(secret)) = (cfg.turn_urls.is_empty(), &cfg.turn_secret) {
        let username = format!("{}:{uid}", now_unix + cfg.turn_ttl_sec as i64);
        ice_servers.push(IceServer {
            urls: cfg.turn_urls.clone(),
            credential: Some(turn_credential(secret.expose_secret(), &username)),
            username: Some(username),
        });
    }
    IceServers {
        ice_servers,
        ttl: cfg.turn_ttl_sec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_matches_the_turn_rest_api_scheme() {
        // HMAC-SHA1("secret", "1700000000:42") in base64, as computed by Python's hmac module
        assert_eq!(
            turn_credential("secret", "1700000000:42"),
            "ZzfPuPkrzUOsnm5YISnTiKDnXWo="
        );
    }
}
