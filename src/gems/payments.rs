//! Gem purchases: a payment token is verified by a `PaymentVerifier`, then
//! credited once. The `payments` row (unique by token) and the ledger row are
//! written in one transaction, so a token sent several times at once credits
//! once and every repeat gets the original answer.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use sqlx::PgPool;

use super::ledger::{self, Applied};
use super::model::Charged;
use crate::error::{ApiError, ApiResult};
use crate::http::provider::Provider;
use crate::messages;

/// Largest purchase one token may carry.
pub const MAX_GEMS: i64 = 1_000_000;

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Valid { gems: i64 },
    Invalid,
}

#[async_trait::async_trait]
pub trait PaymentVerifier: Send + Sync {
    /// `Err` when the verifier could not answer (nothing may be credited then).
    async fn verify(&self, token: &str) -> Result<Verdict, String>;
}

/// Development: `test_<gems>_<anything>` is a valid payment of `<gems>`.
pub struct TestTokens;

#[async_trait::async_trait]
impl PaymentVerifier for TestTokens {
    async fn verify(&self, token: &str) -> Result<Verdict, String> {
        let mut parts = token.splitn(3, '_');
        let verdict = match (
            parts.next(),
            parts.next().map(str::parse::<i64>),
            parts.next(),
        ) {
            (Some("test"), Some(Ok(gems)), Some(rest))
                if !rest.is_empty() && (1..=MAX_GEMS).contains(&gems) =>
            {
                Verdict::Valid { gems }
            }
            _ => Verdict::Invalid,
        };
        Ok(verdict)
    }
}

/// A payment provider's verification endpoint: `POST {"payment_token"}` with
/// `Authorization: Bearer <key>`, answering `{"valid": bool, "gems": n}`.
/// 2xx with `valid: false` or any 4xx is an invalid token; time-outs, 5xx and
/// malformed answers mean the verifier is unavailable.
pub struct HttpVerifier(Provider);

impl HttpVerifier {
    pub fn new(url: String, key: Option<SecretString>, timeout: Duration) -> Self {
        HttpVerifier(Provider::new(url, key, timeout))
    }
}

#[derive(Deserialize)]
struct VerifierAnswer {
    valid: bool,
    #[serde(default)]
    gems: i64,
}

#[async_trait::async_trait]
impl PaymentVerifier for HttpVerifier {
    async fn verify(&self, token: &str) -> Result<Verdict, String> {
        let response = self
            .0
            .post(&serde_json::json!({"payment_token": token}))
            .await
            .map_err(|e| format!("payment verifier: {e}"))?;
        let status = response.status();
        if status.is_client_error() {
            return Ok(Verdict::Invalid);
        }
        if !status.is_success() {
            return Err(format!("payment verifier answered {status}"));
        }
        let answer: VerifierAnswer = response
            .json()
            .await
            .map_err(|e| format!("payment verifier's answer: {e}"))?;
        Ok(match answer {
            VerifierAnswer { valid: true, gems } if (1..=MAX_GEMS).contains(&gems) => {
                Verdict::Valid { gems }
            }
            VerifierAnswer { valid: true, gems } => {
                return Err(format!("payment verifier granted {gems} gems"));
            }
            VerifierAnswer { valid: false, .. } => Verdict::Invalid,
        })
    }
}

/// The answer a token got the first time, if it was used; 409 if by someone else.
async fn previous(db: &PgPool, uid: i64, token: &str) -> ApiResult<Option<Charged>> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT user_id, gems_added, new_balance FROM payments WHERE payment_token = $1",
    )
    .bind(token)
    .fetch_optional(db)
    .await?;
    match row {
        Some((owner, gems_added, new_balance)) if owner == uid => Ok(Some(Charged {
            gems_added,
            new_balance,
        })),
        Some(_) => Err(ApiError::Conflict(messages::PAYMENT_TOKEN_USED)),
        None => Ok(None),
    }
}

/// Verifies `token` and credits its gems to `uid`, once.
pub async fn charge(
    db: &PgPool,
    verifier: &dyn PaymentVerifier,
    uid: i64,
    token: &str,
) -> ApiResult<Charged> {
    if let Some(answer) = previous(db, uid, token).await? {
        return Ok(answer);
    }
    let gems = match verifier
        .verify(token)
        .await
        .map_err(ApiError::Unavailable)?
    {
        Verdict::Valid { gems } => gems,
        Verdict::Invalid => return Err(ApiError::validation("payment_token: invalid")),
    };
    let mut tx = db.begin().await?;
    if let Applied::Done { balance } =
        ledger::apply(&mut tx, uid, gems, ledger::PAYMENT, token).await?
    {
        let recorded = sqlx::query(
            "INSERT INTO payments (payment_token, user_id, gems_added, new_balance) VALUES ($1, $2, $3, $4)
             ON CONFLICT (payment_token) DO NOTHING",
        )
        .bind(token)
        .bind(uid)
        .bind(gems)
        .bind(balance)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(Charged {
                gems_added: gems,
                new_balance: balance,
            });
        }
    }
    // credited meanwhile by a concurrent request: its answer is the answer
    drop(tx);
    previous(db, uid, token)
        .await?
        .ok_or_else(|| ApiError::Internal("payment neither recorded nor found".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_tokens() {
        let v = TestTokens;
        assert_eq!(
            v.verify("test_100_abc").await,
            Ok(Verdict::Valid { gems: 100 })
        );
        assert_eq!(v.verify("test_5_a_b").await, Ok(Verdict::Valid { gems: 5 }));
        for bad in [
            "test_0_x",
            "test_-3_x",
            "test_10_",
            "test_10",
            "prod_10_x",
            "test_x_y",
            "test_1000001_x",
        ] {
            assert_eq!(v.verify(bad).await, Ok(Verdict::Invalid), "{bad}");
        }
    }
}
