//! SQL of call history and ratings.

use sqlx::PgPool;

use super::model::RecentCall;

/// `me`'s calls, newest first; `before` is a call id.
pub async fn recent(
    db: &PgPool,
    me: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<RecentCall>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.shown_username AS username, c.started_at AS call_time,
                c.id AS call_id, p.id AS partner_id, c.duration_sec
         FROM calls c
         JOIN users p ON p.id = CASE WHEN c.user_a = $1 THEN c.user_b ELSE c.user_a END
         WHERE (c.user_a = $1 OR c.user_b = $1) AND ($2::int8 IS NULL OR c.id < $2)
         ORDER BY c.id DESC
         LIMIT $3",
    )
    .bind(me)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The two users of a call.
pub async fn participants(db: &PgPool, call: i64) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT user_a, user_b FROM calls WHERE id = $1")
        .bind(call)
        .fetch_optional(db)
        .await
}

/// Records a rating; false when this rater rated this call before.
pub async fn rate(
    db: &PgPool,
    call: i64,
    rater: i64,
    rated: i64,
    rating: i32,
    comment: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO ratings (call_id, rater_id, rated_id, rating, comment) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (call_id, rater_id) DO NOTHING",
    )
    .bind(call)
    .bind(rater)
    .bind(rated)
    .bind(rating as i16)
    .bind(comment)
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
