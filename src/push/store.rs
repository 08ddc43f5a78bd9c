//! SQL of push tokens (`push_tokens`).

use sqlx::PgPool;

use super::model::Platform;

/// Devices one user keeps at most; registering one more forgets the oldest.
const MAX_TOKENS_PER_USER: i64 = 10;

/// Registers `token` for `uid` (moving it from whoever had it); true when
/// something changed, false when it was registered so already.
pub async fn register(
    db: &PgPool,
    uid: i64,
    platform: Platform,
    token: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let changed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO push_tokens (token, user_id, platform) VALUES ($1, $2, $3)
         ON CONFLICT (token) DO UPDATE
             SET user_id = EXCLUDED.user_id, platform = EXCLUDED.platform, updated_at = now()
             WHERE push_tokens.user_id <> EXCLUDED.user_id OR push_tokens.platform <> EXCLUDED.platform
         RETURNING 1",
    )
    .bind(token)
    .bind(uid)
    .bind(platform.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM push_tokens WHERE user_id = $1 AND token NOT IN
             (SELECT token FROM push_tokens WHERE user_id = $1 ORDER BY updated_at DESC LIMIT $2)",
    )
    .bind(uid)
    .bind(MAX_TOKENS_PER_USER)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(changed.is_some())
}

/// Forgets one of `uid`'s tokens (nothing when it is not theirs).
pub async fn unregister(db: &PgPool, uid: i64, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM push_tokens WHERE token = $1 AND user_id = $2")
        .bind(token)
        .bind(uid)
        .execute(db)
        .await?;
    Ok(())
}

/// The `(platform, token)`s of a user's devices.
pub async fn tokens_of(db: &PgPool, uid: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT platform, token FROM push_tokens WHERE user_id = $1 ORDER BY token")
        .bind(uid)
        .fetch_all(db)
        .await
}

/// Forgets a token the provider called invalid.
pub async fn forget(db: &PgPool, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM push_tokens WHERE token = $1")
        .bind(token)
        .execute(db)
        .await?;
    Ok(())
}
