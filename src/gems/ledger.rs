//! Gem balances move only together with a ledger row, in one transaction,
//! and each movement carries an idempotency key (`reason`, `ref`): a match is
//! charged once, a payment credited once. Balances never go below zero
//! (a CHECK on both tables backs the conditional UPDATE).

use sqlx::{PgConnection, PgPool};

pub const FILTER_MATCH: &str = "filter_match";
pub const MATCH_REFUND: &str = "match_refund";
pub const PAYMENT: &str = "payment";

pub async fn balance(db: &PgPool, uid: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT gems FROM users WHERE id = $1")
        .bind(uid)
        .fetch_optional(db)
        .await
}

/// What one movement did.
pub enum Applied {
    Done {
        balance: i64,
    },
    /// `(user, reason, ref)` moved before: nothing to do (roll back).
    Duplicate,
    /// The balance would go below zero (roll back).
    Insufficient,
}

/// Moves `uid`'s balance by `delta` and records it, inside `tx`.
pub async fn apply(
    tx: &mut PgConnection,
    uid: i64,
    delta: i64,
    reason: &str,
    reference: &str,
) -> Result<Applied, sqlx::Error> {
    let balance: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET gems = gems + $2, updated_at = now() WHERE id = $1 AND gems + $2 >= 0 RETURNING gems",
    )
    .bind(uid)
    .bind(delta)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(balance) = balance else {
        return Ok(Applied::Insufficient);
    };
    let recorded = sqlx::query(
        "INSERT INTO gem_ledger (user_id, delta, balance_after, reason, ref)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, reason, ref) DO NOTHING",
    )
    .bind(uid)
    .bind(delta)
    .bind(balance)
    .bind(reason)
    .bind(reference)
    .execute(&mut *tx)
    .await?;
    Ok(if recorded.rows_affected() == 0 {
        Applied::Duplicate
    } else {
        Applied::Done { balance }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    #[error("user {0} has too few gems")]
    Insufficient(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Charges every `(user, gems)` of a match, all or none. Charging the same
/// match again charges nobody twice.
pub async fn charge_for_match(
    db: &PgPool,
    match_id: i64,
    payers: &[(i64, i64)],
) -> Result<(), ChargeError> {
    let mut tx = db.begin().await?;
    let reference = match_id.to_string();
    for &(uid, cost) in payers {
        match apply(&mut tx, uid, -cost, FILTER_MATCH, &reference).await? {
            Applied::Done { .. } => {}
            Applied::Insufficient => return Err(ChargeError::Insufficient(uid)),
            // charged before: dropping the transaction undoes this second attempt
            Applied::Duplicate => return Ok(()),
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Gives back every gem charged for a match that ended before it was announced;
/// a second call gives nothing. Returns the users who got gems back.
pub async fn refund_match(db: &PgPool, match_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    let reference = match_id.to_string();
    let charged: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, -delta FROM gem_ledger WHERE ref = $1 AND reason = $2")
            .bind(&reference)
            .bind(FILTER_MATCH)
            .fetch_all(db)
            .await?;
    if charged.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin().await?;
    for &(uid, gems) in &charged {
        match apply(&mut tx, uid, gems, MATCH_REFUND, &reference).await? {
            Applied::Done { .. } => {}
            // refunded before (all payers at once): dropping the transaction undoes this one
            Applied::Duplicate | Applied::Insufficient => return Ok(Vec::new()),
        }
    }
    tx.commit().await?;
    Ok(charged.into_iter().map(|(uid, _)| uid).collect())
}

/// Adds gems with a ledger row; `false` when `(reason, reference)` was credited before.
pub async fn credit(
    db: &PgPool,
    uid: i64,
    gems: i64,
    reason: &str,
    reference: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    match apply(&mut tx, uid, gems, reason, reference).await? {
        Applied::Done { .. } => {
            tx.commit().await?;
            Ok(true)
        }
        Applied::Duplicate | Applied::Insufficient => Ok(false),
    }
}
