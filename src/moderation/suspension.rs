//! Suspensions: automatic (`AUTO_SUSPEND_REPORTERS` distinct reporters in 24 h)
//! or by an admin, for some days or until lifted. A suspended user is taken
//! out of the pool and out of any undecided match at once, and is refused
//! (403 with `until`) wherever they would reach someone: matching, decisions,
//! calls, broadcasts, replies and messages. A suspension ends by itself at
//! `until` (readers compare it with now()).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::error::{ApiError, ApiResult};
use crate::matching::service;
use crate::state::AppState;

/// `Some(until)` when `uid` is suspended now (`until` None: until lifted).
pub async fn current(db: &PgPool, uid: i64) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error> {
    let row: Option<(Option<DateTime<Utc>>,)> = sqlx::query_as(
        "SELECT suspended_until FROM users
         WHERE id = $1 AND suspended_at IS NOT NULL
           AND (suspended_until IS NULL OR suspended_until > now())",
    )
    .bind(uid)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(until,)| until))
}

/// Refuses a suspended user (403 with `until`).
pub async fn ensure_active(state: &AppState, uid: i64) -> ApiResult<()> {
    match current(&state.db, uid).await? {
        Some(until) => Err(ApiError::suspended(until)),
        None => Ok(()),
    }
}

/// After a report of `uid`: suspends them pending review when enough distinct
/// users reported them within the window and they are not suspended already.
/// One statement decides, so concurrent reports suspend once.
pub async fn after_report(state: &AppState, uid: i64) -> ApiResult<bool> {
    let threshold = state.cfg.quotas.auto_suspend_reporters;
    if threshold == 0 {
        return Ok(false);
    }
    // distinct reporters of the last 24 hours
    let suspended = sqlx::query(
        "UPDATE users SET suspended_at = now(), suspended_until = NULL, updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL
           AND NOT (suspended_at IS NOT NULL
                    AND (suspended_until IS NULL OR suspended_until > now()))
           AND (SELECT count(DISTINCT reporter_id) FROM reports
                WHERE reported_id = $1 AND status = 'open'
                  AND created_at > now() - interval '24 hours') >= $2",
    )
    .bind(uid)
    .bind(threshold)
    .execute(&state.db)
    .await?
    .rows_affected()
        == 1;
    if suspended {
        tracing::info!(
            user_id = uid,
            "suspended pending review: reported by {threshold} users"
        );
        service::leave_matching(state, uid).await?;
    }
    Ok(suspended)
}
