//! The account limits kept in Redis: signups and registers per address,
//! login attempts per account and per address (docs/production.md).

use std::net::IpAddr;

use crate::error::ApiResult;
use crate::messages::{self, Text};
use crate::ratelimit::{self, HOUR, Limit, Unit};
use crate::state::AppState;

/// One account more from `ip` within `SIGNUP_IP_LIMIT` an hour, or 429.
/// A signup that fails later still counts: it cost an argon2 hash.
pub async fn take_signup_slot(state: &AppState, ip: IpAddr) -> ApiResult<()> {
    per_address(
        state,
        "signup_ip",
        ip,
        state.cfg.signup_ip_limit,
        messages::SIGNUP_LIMITED,
    )
    .await
}

/// One `register` attempt more from `ip` within `REGISTER_IP_LIMIT` an hour, or
/// 429, counted before the phone is looked up: 409 `user_exists` must not be a
/// free oracle of who has an account.
pub async fn take_register_slot(state: &AppState, ip: IpAddr) -> ApiResult<()> {
    let max = state.cfg.quotas.registers_per_ip_hour;
    per_address(state, "register_ip", ip, max, messages::REGISTER_LIMITED).await
}

async fn per_address(
    state: &AppState,
    kind: &str,
    ip: IpAddr,
    max: u64,
    text: Text,
) -> ApiResult<()> {
    let limit = Limit {
        key: state.redis.keys.rate(kind, &ip.to_string()),
        window_sec: HOUR,
        max,
        text,
    };
    ratelimit::spend(&state.redis, limit).await
}

/// A login attempt, counted as a failure of the account and of the address
/// *before* the password is checked, so that parallel wrong passwords can
/// never get past the limits. A success clears the account's failures and
/// gives the address its unit back.
pub struct LoginAttempt {
    account: Unit,
    ip: Unit,
}

impl LoginAttempt {
    pub async fn begin(state: &AppState, account: &str, ip: IpAddr) -> ApiResult<Self> {
        let (keys, cfg) = (&state.redis.keys, &state.cfg);
        let limit = |key: String, max: u64| Limit {
            key,
            window_sec: cfg.login_fail_window_sec,
            max,
            text: messages::LOGIN_LIMITED,
        };
        let account = ratelimit::take(
            &state.redis,
            limit(keys.rate("login_fail", account), cfg.login_fail_limit),
        )
        .await?;
        let ip_limit = limit(
            keys.rate("login_fail_ip", &ip.to_string()),
            cfg.login_ip_fail_limit,
        );
        match ratelimit::take(&state.redis, ip_limit).await {
            Ok(ip) => Ok(LoginAttempt { account, ip }),
            Err(e) => {
                account.give_back(&state.redis).await?;
                Err(e)
            }
        }
    }

    pub async fn succeeded(self, state: &AppState) -> ApiResult<()> {
        ratelimit::clear(&state.redis, self.account.key()).await?;
        self.ip.give_back(&state.redis).await
    }
}
