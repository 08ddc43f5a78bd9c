//! SQL of blocks and reports.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::model::{Block, Report};

/// True when either user has blocked the other (`blocked_with()` in SQL).
pub async fn blocked_either_way(db: &PgPool, a: i64, b: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blocked_with($1) AS x WHERE x = $2)")
        .bind(a)
        .bind(b)
        .fetch_one(db)
        .await
}

pub async fn user_exists(db: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Blocks `blocked` for `blocker`; true when the block is new.
pub async fn block(db: &PgPool, blocker: i64, blocked: i64) -> Result<(Block, bool), sqlx::Error> {
    // (xmax = 0): this statement inserted the row, rather than finding it
    type Row = (i64, i64, i64, DateTime<Utc>, DateTime<Utc>, bool);
    let (id, blocker_id, blocked_id, created_at, updated_at, inserted): Row = sqlx::query_as(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
         ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET blocker_id = EXCLUDED.blocker_id
         RETURNING id, blocker_id, blocked_id, created_at, updated_at, (xmax = 0)",
    )
    .bind(blocker)
    .bind(blocked)
    .fetch_one(db)
    .await?;
    let block = Block {
        id,
        blocker_id,
        blocked_id,
        created_at,
        updated_at,
    };
    Ok((block, inserted))
}

pub async fn unblock(db: &PgPool, blocker: i64, blocked: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn report(
    db: &PgPool,
    reporter: i64,
    reported: i64,
    reason: &str,
) -> Result<Report, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO reports (reporter_id, reported_id, reason) VALUES ($1, $2, $3)
         RETURNING id, reporter_id, reported_id, reason, created_at, updated_at",
    )
    .bind(reporter)
    .bind(reported)
    .bind(reason)
    .fetch_one(db)
    .await
}

/// Files an appeal; None when one of the user's is open already (the unique
/// index on open appeals decides between concurrent requests).
pub async fn file_appeal(db: &PgPool, uid: i64, reason: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO appeals (user_id, reason) VALUES ($1, $2)
         ON CONFLICT (user_id) WHERE status = 'open' DO NOTHING RETURNING id",
    )
    .bind(uid)
    .bind(reason)
    .fetch_optional(db)
    .await
}
