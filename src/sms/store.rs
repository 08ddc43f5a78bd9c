//! Verification codes: issue (cooldown, daily and per-address limits),
//! verify (at most five attempts, counted before comparing), and the
//! "verified in the last 30 minutes" mark that registration needs.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use fred::prelude::*;
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::messages;
use crate::ratelimit::{self, HOUR};
use crate::state::AppState;

/// A code that was stored and sent.
pub struct Issued {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// What one verification attempt found.
pub enum Attempt {
    Verified {
        at: DateTime<Utc>,
    },
    Mismatch {
        attempt: i64,
        expires_at: DateTime<Utc>,
    },
    Exhausted {
        attempts: i64,
    },
    Missing,
}

/// Keyed hash of a code: Redis never holds a code itself.
fn code_hash(state: &AppState, phone: &str, code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.cfg.jwt_secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"sms-code:");
    mac.update(phone.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn from_unix(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_else(Utc::now)
}

/// Stores a fresh code for `phone` and sends it. Nothing is counted against
/// the phone or the address when the code could not be sent.
pub async fn issue(state: &AppState, phone: &str, ip: IpAddr) -> ApiResult<Issued> {
    let cfg = &state.cfg;
    let ip_unit = ratelimit::take(
        &state.redis,
        ratelimit::Limit {
            key: state.redis.keys.rate("sms_ip", &ip.to_string()),
            window_sec: HOUR,
            max: cfg.sms_ip_limit,
            text: messages::SMS_IP_LIMITED,
        },
    )
    .await?;

    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let hash = code_hash(state, phone, &code);
    let keys = state.redis.keys.sms(phone);
    let key_list = vec![keys.code.clone(), keys.cooldown.clone(), keys.daily.clone()];
    let (status, value): (i64, i64) = state
        .redis
        .run(
            &state.redis.scripts.sms_issue,
            key_list.clone(),
            vec![
                hash.clone(),
                cfg.sms_code_ttl_sec.to_string(),
                cfg.sms_resend_cooldown_sec.to_string(),
                cfg.sms_daily_limit.to_string(),
                Utc::now().timestamp().to_string(),
            ],
        )
        .await?;
    let refused = match status {
        0 => None,
        1 => Some(messages::SMS_COOLDOWN),
        _ => Some(messages::SMS_DAILY_LIMIT),
    };
    if let Some(text) = refused {
        ip_unit.give_back(&state.redis).await?;
        return Err(ApiError::RateLimited {
            text,
            wait_seconds: value.max(1) as u64,
        });
    }

    let text = format!("[voxmatch] 인증 코드는 {code} 입니다. 타인에게 알려주지 마세요.");
    if let Err(cause) = state.sms.send(phone, &text).await {
        let _: i64 = state
            .redis
            .run(&state.redis.scripts.sms_cancel, key_list, vec![hash])
            .await?;
        ip_unit.give_back(&state.redis).await?;
        return Err(ApiError::Unavailable(cause));
    }
    ip_unit.keep();
    Ok(Issued {
        code,
        expires_at: from_unix(value),
    })
}

/// One attempt at the code of `phone`.
pub async fn verify(state: &AppState, phone: &str, code: &str) -> ApiResult<Attempt> {
    let keys = state.redis.keys.sms(phone);
    let claim: Vec<Value> = state
        .redis
        .run(
            &state.redis.scripts.sms_claim_attempt,
            vec![keys.code.clone()],
            vec![state.cfg.sms_max_attempts],
        )
        .await?;
    let int = |i: usize| claim.get(i).and_then(Value::as_i64).unwrap_or(0);
    match int(0) {
        1 => return Ok(Attempt::Missing),
        2 => return Ok(Attempt::Exhausted { attempts: int(1) }),
        _ => {}
    }
    let attempt = int(1);
    let stored = claim
        .get(2)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .into_owned();
    let expires_at = from_unix(int(3));
    let candidate = code_hash(state, phone, code);
    if !bool::from(candidate.as_bytes().ct_eq(stored.as_bytes())) {
        return Ok(Attempt::Mismatch {
            attempt,
            expires_at,
        });
    }
    let now = Utc::now();
    let confirmed: i64 = state
        .redis
        .run(
            &state.redis.scripts.sms_confirm,
            vec![keys.code, keys.verified],
            vec![
                stored,
                state.cfg.sms_verified_ttl_sec.to_string(),
                now.timestamp().to_string(),
            ],
        )
        .await?;
    Ok(if confirmed == 1 {
        Attempt::Verified { at: now }
    } else {
        Attempt::Missing
    })
}

/// True when `phone` was verified within the last `SMS_VERIFIED_TTL_SEC`.
pub async fn is_verified(state: &AppState, phone: &str) -> ApiResult<bool> {
    Ok(state
        .redis
        .pool
        .exists(state.redis.keys.sms(phone).verified)
        .await?)
}

/// True when `phone` was verified within the last `secs` seconds (and the
/// verification was not used up).
pub async fn verified_within(state: &AppState, phone: &str, secs: i64) -> ApiResult<bool> {
    let at: Option<i64> = state
        .redis
        .pool
        .get(state.redis.keys.sms(phone).verified)
        .await?;
    Ok(at.is_some_and(|at| Utc::now().timestamp() - at <= secs))
}

/// Uses up the verification once an account was made with it.
pub async fn consume_verification(state: &AppState, phone: &str) -> ApiResult<()> {
    let _: i64 = state
        .redis
        .pool
        .del(state.redis.keys.sms(phone).verified)
        .await?;
    Ok(())
}
