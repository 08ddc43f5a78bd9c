//! SQL of broadcasts.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::config::TalkConfig;
use crate::error::{ApiError, ApiResult};
use crate::messages;

/// A broadcast as stored, with its author's shown name.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub user_id: i64,
    pub active: bool,
    pub expired_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub nickname: String,
    pub gender: Option<String>,
    pub voice_key: Option<String>,
}

impl Row {
    /// Active and not expired.
    pub fn live(&self) -> bool {
        self.active && self.expired_at > Utc::now()
    }
}

macro_rules! select_broadcast {
    ($rest:literal) => {
        concat!(
            "SELECT b.id, b.user_id, b.active, b.expired_at, b.created_at, b.updated_at, b.duration_ms,
                    u.shown_nickname AS nickname, u.gender, b.voice_key
             FROM broadcasts b JOIN users u ON u.id = b.user_id ",
            $rest
        )
    };
}

pub async fn find(db: &PgPool, id: i64) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(select_broadcast!("WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Live broadcasts of others, never of users blocked either way, newest first.
pub async fn live_for(
    db: &PgPool,
    me: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(select_broadcast!(
        "WHERE b.active AND b.expired_at > now() AND b.user_id <> $1
           AND NOT EXISTS (SELECT 1 FROM blocked_with($1) AS x WHERE x = b.user_id)
           AND ($2::int8 IS NULL OR b.id < $2)
         ORDER BY b.id DESC LIMIT $3"
    ))
    .bind(me)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Records a broadcast within the daily limit (429 past it); returns its id.
pub async fn insert(
    db: &PgPool,
    cfg: &TalkConfig,
    uid: i64,
    voice_key: &str,
    duration_ms: Option<i64>,
) -> ApiResult<i64> {
    let mut tx = db.begin().await?;
    // one at a time per user, so that the daily count cannot be raced
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(uid)
        .execute(&mut *tx)
        .await?;
    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), min(created_at) FROM broadcasts
         WHERE user_id = $1 AND created_at > now() - interval '1 day'",
    )
    .bind(uid)
    .fetch_one(&mut *tx)
    .await?;
    if count >= cfg.broadcast_daily_limit {
        let free_at = oldest.unwrap_or_else(Utc::now) + Duration::days(1);
        return Err(ApiError::RateLimited {
            text: messages::BROADCAST_DAILY_LIMIT,
            wait_seconds: (free_at - Utc::now()).num_seconds().max(1) as u64,
        });
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO broadcasts (user_id, voice_key, duration_ms, expired_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING id",
    )
    .bind(uid)
    .bind(voice_key)
    .bind(duration_ms.map(|d| d as i32))
    .bind(cfg.broadcast_ttl_sec as f64)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Marks expired broadcasts inactive; returns the keys of their voice files.
pub async fn expire(db: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE broadcasts b SET active = false, voice_key = NULL, updated_at = now()
         FROM (SELECT id, voice_key FROM broadcasts
               WHERE expired_at <= now() AND voice_key IS NOT NULL
               LIMIT 500 FOR UPDATE SKIP LOCKED) old
         WHERE b.id = old.id
         RETURNING old.voice_key",
    )
    .fetch_all(db)
    .await
}
