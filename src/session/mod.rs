//! Sessions: JWT access and refresh tokens bound to a login session held in
//! Redis, and the authenticated caller (`AuthUser`). A ground-floor module:
//! the HTTP filters and the app state use it, and it knows nothing of them.
//!
//! A session is one Redis key, `uid:<current refresh jti>`, living as long
//! as its refresh token. Access tokens are checked against it on every
//! request (the session must live and be the token's user's), so deleting
//! the key (logout, reuse of a rotated refresh token) revokes the whole
//! session at once; a `session_revoked` event then closes its open
//! WebSockets and SSE streams on every node.
//!
//! A node remembers the sessions it checked for `AUTH_CACHE_MS` (2 s), so
//! that a request costs no Redis round trip. A revocation is forgotten at
//! once by the node that revoked and, through the bus's invalidations, by
//! every other node (milliseconds later); a node that missed that message
//! still refuses the session after `AUTH_CACHE_MS` at most.

use std::time::Duration;

use chrono::Utc;
use fred::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::cache::LocalCache;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::realtime::bus::{self, Invalidation};
use crate::realtime::protocol::{SESSION_REVOKED, SessionRevoked};
use crate::redis::Redis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    uid: i64,
    sid: String,
    typ: Kind,
    jti: String,
    iat: i64,
    exp: i64,
}

/// The caller of an authenticated request.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: i64,
    pub session: String,
    /// When the access token expires (unix seconds): streams close then.
    pub expires_at: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: u64,
    refresh_ttl: u64,
    /// Sessions checked lately, with their user.
    checked: LocalCache<String, i64>,
    /// Access tokens whose signature was checked lately.
    verified: LocalCache<String, AuthUser>,
}

/// 128 random bits, hex: session ids and token ids.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Tokens {
    pub fn new(cfg: &Config) -> Self {
        let secret = cfg.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl: cfg.access_ttl_sec,
            refresh_ttl: cfg.refresh_ttl_sec,
            checked: LocalCache::new(Duration::from_millis(cfg.auth_cache_ms), 100_000),
            verified: LocalCache::new(Duration::from_secs(60), 50_000),
        }
    }

    fn sign(&self, uid: i64, sid: &str, typ: Kind, jti: String) -> ApiResult<String> {
        let now = Utc::now().timestamp();
        let ttl = match typ {
            Kind::Access => self.access_ttl,
            Kind::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            uid,
            sid: sid.to_owned(),
            typ,
            jti,
            iat: now,
            exp: now + ttl as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))
    }

    fn decode(&self, token: &str, typ: Kind) -> ApiResult<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::InvalidToken)?
            .claims;
        if claims.typ != typ {
            return Err(ApiError::InvalidToken);
        }
        Ok(claims)
    }

    fn pair(&self, uid: i64, sid: &str, refresh_jti: String) -> ApiResult<TokenPair> {
        Ok(TokenPair {
            access: self.sign(uid, sid, Kind::Access, random_id())?,
            refresh: self.sign(uid, sid, Kind::Refresh, refresh_jti)?,
        })
    }

    /// Opens a new session for `uid` and returns its first token pair.
    pub async fn start_session(&self, redis: &Redis, uid: i64) -> ApiResult<TokenPair> {
        let sid = random_id();
        let jti = random_id();
        let _: () = redis
            .pool
            .set(
                redis.keys.session(&sid),
                format!("{uid}:{jti}"),
                Some(Expiration::EX(self.refresh_ttl as i64)),
                None,
                false,
            )
            .await?;
        // the user's sessions, for ending them all (account deletion); sessions
        // that ended meanwhile leave stale ids here, which ending skips
        let sessions = redis.keys.user_sessions(uid);
        let _: i64 = redis.pool.sadd(&sessions, sid.as_str()).await?;
        let _: bool = redis
            .pool
            .expire(&sessions, self.refresh_ttl as i64, None)
            .await?;
        self.pair(uid, &sid, jti)
    }

    /// Ends every session of `uid`: their tokens are refused at once on every
    /// node and their streams close.
    pub async fn end_all(&self, redis: &Redis, uid: i64) -> ApiResult<()> {
        let sessions = redis.keys.user_sessions(uid);
        let sids: Vec<String> = redis.pool.smembers(&sessions).await?;
        for sid in &sids {
            let _: i64 = redis.pool.del(redis.keys.session(sid)).await?;
            self.revoked(redis, uid, sid).await?;
        }
        let _: i64 = redis.pool.del(&sessions).await?;
        Ok(())
    }

    /// Checks an access token: signature, expiry, kind, and that its session
    /// lives and belongs to the token's user.
    pub async fn authenticate(&self, redis: &Redis, token: &str) -> ApiResult<AuthUser> {
        let user = self.verify(token)?;
        match self.checked.get(&user.session) {
            Ok(uid) if uid == user.id => {}
            Ok(_) => return Err(ApiError::InvalidToken),
            Err(ticket) => {
                // boxed, as every fred call on a request's path (see `crate::redis`)
                let session: Option<String> =
                    Box::pin(redis.pool.get(redis.keys.session(&user.session))).await?;
                let owner = session.as_deref().and_then(|s| s.split(':').next());
                if owner != Some(user.id.to_string().as_str()) {
                    return Err(ApiError::InvalidToken);
                }
                self.checked.insert(ticket, user.session.clone(), user.id);
            }
        }
        tracing::Span::current().record("user_id", user.id);
        Ok(user)
    }

    /// The caller an access token names, if its signature holds and it has
    /// not expired (whether its session lives is `authenticate`'s question).
    /// Checking a signature costs more than the rest of a request's own
    /// work, so tokens seen lately are remembered.
    fn verify(&self, token: &str) -> ApiResult<AuthUser> {
        let seen = match self.verified.get(token) {
            Ok(user) if Utc::now().timestamp() < user.expires_at => return Ok(user),
            Ok(_) => None,
            Err(ticket) => Some(ticket),
        };
        let claims = self.decode(token, Kind::Access)?;
        let user = AuthUser {
            id: claims.uid,
            session: claims.sid,
            expires_at: claims.exp,
        };
        if let Some(ticket) = seen {
            self.verified.insert(ticket, token.to_owned(), user.clone());
        }
        Ok(user)
    }

    /// Exchanges a refresh token for a new pair. A refresh token that was
    /// already exchanged revokes its session: whoever holds the newer one
    /// (the user or a thief) has to log in again.
    pub async fn refresh(&self, redis: &Redis, token: &str) -> ApiResult<TokenPair> {
        let claims = self.decode(token, Kind::Refresh)?;
        let new_jti = random_id();
        let outcome: i64 = redis
            .run(
                &redis.scripts.rotate_refresh,
                vec![redis.keys.session(&claims.sid)],
                vec![
                    claims.jti.clone(),
                    new_jti.clone(),
                    self.refresh_ttl.to_string(),
                ],
            )
            .await?;
        match outcome {
            1 => self.pair(claims.uid, &claims.sid, new_jti),
            -1 => {
                tracing::warn!(
                    user_id = claims.uid,
                    "rotated refresh token reused; session revoked"
                );
                self.revoked(redis, claims.uid, &claims.sid).await?;
                Err(ApiError::InvalidToken)
            }
            _ => Err(ApiError::InvalidToken),
        }
    }

    /// Ends the session of `refresh` (which must belong to `user`) and the
    /// caller's own session.
    pub async fn logout(&self, redis: &Redis, user: &AuthUser, refresh: &str) -> ApiResult<()> {
        let claims = self.decode(refresh, Kind::Refresh)?;
        if claims.uid != user.id {
            return Err(ApiError::InvalidToken);
        }
        let _: i64 = redis.pool.del(redis.keys.session(&claims.sid)).await?;
        self.revoked(redis, user.id, &claims.sid).await?;
        if claims.sid != user.session {
            let _: i64 = redis.pool.del(redis.keys.session(&user.session)).await?;
            self.revoked(redis, user.id, &user.session).await?;
        }
        Ok(())
    }

    /// Tells every node that `session` of `uid` is gone: caches forget it,
    /// its streams close.
    async fn revoked(&self, redis: &Redis, uid: i64, session: &str) -> ApiResult<()> {
        self.forget(session);
        bus::invalidate(redis, Invalidation::Session(session.to_owned())).await?;
        let event = SessionRevoked {
            kind: SESSION_REVOKED,
            session,
        };
        bus::publish(redis, &[uid], &event.to_json()).await?;
        Ok(())
    }

    /// Forgets a session this node checked (it was revoked somewhere).
    pub fn forget(&self, session: &str) {
        self.checked.remove(session);
    }

    /// Forgets every session this node checked (it may have missed invalidations).
    pub fn forget_all(&self) {
        self.checked.clear();
    }
}
