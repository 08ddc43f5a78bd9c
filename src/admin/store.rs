//! SQL of the admin endpoints. Every action and its audit row are one
//! statement (a data-modifying CTE), so neither exists without the other.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::model::{Appeal, ReportItem, ReportedUser};

pub async fn is_admin(db: &PgPool, uid: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND role = 'admin')")
        .bind(uid)
        .fetch_one(db)
        .await
}

/// Makes the user with this username (any case) or phone number an admin;
/// their id, or None when there is none.
pub async fn grant(db: &PgPool, who: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH g AS (
             UPDATE users SET role = 'admin', updated_at = now()
             WHERE (lower(username) = lower($1) OR phone_number = $1) AND deleted_at IS NULL
             RETURNING id)
         INSERT INTO admin_audit (admin_id, action, user_id, detail)
         SELECT NULL, 'grant_admin', id, jsonb_build_object('by', 'command line') FROM g
         RETURNING user_id",
    )
    .bind(who)
    .fetch_optional(db)
    .await
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    user_id: i64,
    username: String,
    suspended: bool,
    suspended_until: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    item: ReportItem,
}

/// Reports (`open`, or else resolved and dismissed) grouped by the reported
/// user, most reporters first; at most 100 users.
pub async fn reports(db: &PgPool, open: bool) -> Result<Vec<ReportedUser>, sqlx::Error> {
    let rows: Vec<ReportRow> = sqlx::query_as(
        "WITH who AS (
             SELECT reported_id FROM reports WHERE (status = 'open') = $1
             GROUP BY reported_id
             ORDER BY count(DISTINCT reporter_id) DESC, max(created_at) DESC
             LIMIT 100)
         SELECT r.reported_id AS user_id, u.shown_username AS username,
                (u.suspended_at IS NOT NULL
                 AND (u.suspended_until IS NULL OR u.suspended_until > now())) AS suspended,
                u.suspended_until, r.id, r.reporter_id, r.reason, r.status, r.created_at
         FROM reports r JOIN who ON who.reported_id = r.reported_id
              JOIN users u ON u.id = r.reported_id
         WHERE (r.status = 'open') = $1
         ORDER BY r.created_at",
    )
    .bind(open)
    .fetch_all(db)
    .await?;
    let mut out: Vec<ReportedUser> = Vec::new();
    for row in rows {
        let group = match out.iter_mut().position(|g| g.user_id == row.user_id) {
            Some(i) => &mut out[i],
            None => {
                out.push(ReportedUser {
                    user_id: row.user_id,
                    username: row.username,
                    reports: 0,
                    reporters: 0,
                    suspended: row.suspended,
                    suspended_until: row.suspended_until.filter(|_| row.suspended),
                    items: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        if !group
            .items
            .iter()
            .any(|i| i.reporter_id == row.item.reporter_id)
        {
            group.reporters += 1;
        }
        group.reports += 1;
        group.items.push(row.item);
    }
    out.sort_by_key(|g| std::cmp::Reverse(g.reporters));
    Ok(out)
}

/// Appeals (`open`, or else accepted and rejected), oldest first; at most 100.
pub async fn appeals(db: &PgPool, open: bool) -> Result<Vec<Appeal>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.user_id, u.shown_username AS username, a.reason, a.status, a.note,
                u.suspended_until, a.created_at, a.resolved_at
         FROM appeals a JOIN users u ON u.id = a.user_id
         WHERE (a.status = 'open') = $1
         ORDER BY a.created_at LIMIT 100",
    )
    .bind(open)
    .fetch_all(db)
    .await
}

/// Suspends `uid` until `until` (None: until lifted); their open reports are
/// resolved. False when there is no such user.
pub async fn suspend(
    db: &PgPool,
    admin: i64,
    uid: i64,
    until: Option<DateTime<Utc>>,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done: Option<i64> = sqlx::query_scalar(
        "WITH s AS (
             UPDATE users SET suspended_at = now(), suspended_until = $3, updated_at = now()
             WHERE id = $2 AND deleted_at IS NULL RETURNING id),
         r AS (
             UPDATE reports SET status = 'resolved', updated_at = now()
             WHERE reported_id IN (SELECT id FROM s) AND status = 'open')
         INSERT INTO admin_audit (admin_id, action, user_id, detail)
         SELECT $1, 'suspend', id, jsonb_build_object('until', $3, 'reason', $4::text) FROM s
         RETURNING user_id",
    )
    .bind(admin)
    .bind(uid)
    .bind(until)
    .bind(reason)
    .fetch_optional(db)
    .await?;
    Ok(done.is_some())
}

/// Lifts a suspension; open reports are resolved. False when there is no such user.
pub async fn unsuspend(db: &PgPool, admin: i64, uid: i64) -> Result<bool, sqlx::Error> {
    let done: Option<i64> = sqlx::query_scalar(
        "WITH s AS (
             UPDATE users SET suspended_at = NULL, suspended_until = NULL, updated_at = now()
             WHERE id = $2 AND deleted_at IS NULL RETURNING id),
         r AS (
             UPDATE reports SET status = 'resolved', updated_at = now()
             WHERE reported_id IN (SELECT id FROM s) AND status = 'open')
         INSERT INTO admin_audit (admin_id, action, user_id)
         SELECT $1, 'unsuspend', id FROM s
         RETURNING user_id",
    )
    .bind(admin)
    .bind(uid)
    .fetch_optional(db)
    .await?;
    Ok(done.is_some())
}

/// Dismisses an open report. False when there is no open report of this id.
pub async fn dismiss(db: &PgPool, admin: i64, report: i64) -> Result<bool, sqlx::Error> {
    let done: Option<i64> = sqlx::query_scalar(
        "WITH d AS (
             UPDATE reports SET status = 'dismissed', updated_at = now()
             WHERE id = $2 AND status = 'open' RETURNING id, reported_id)
         INSERT INTO admin_audit (admin_id, action, user_id, subject_id)
         SELECT $1, 'dismiss_report', reported_id, id FROM d
         RETURNING subject_id",
    )
    .bind(admin)
    .bind(report)
    .fetch_optional(db)
    .await?;
    Ok(done.is_some())
}

/// Resolves an open appeal; accepting lifts the suspension and resolves the
/// user's open reports. The appealing user's id, or None when there is no
/// open appeal of this id.
pub async fn resolve_appeal(
    db: &PgPool,
    admin: i64,
    appeal: i64,
    accept: bool,
    note: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH a AS (
             UPDATE appeals
             SET status = CASE WHEN $3 THEN 'accepted' ELSE 'rejected' END, note = $4,
                 resolved_by = $1, resolved_at = now()
             WHERE id = $2 AND status = 'open' RETURNING id, user_id),
         u AS (
             UPDATE users SET suspended_at = NULL, suspended_until = NULL, updated_at = now()
             WHERE $3 AND id IN (SELECT user_id FROM a)),
         r AS (
             UPDATE reports SET status = 'resolved', updated_at = now()
             WHERE $3 AND reported_id IN (SELECT user_id FROM a) AND status = 'open')
         INSERT INTO admin_audit (admin_id, action, user_id, subject_id, detail)
         SELECT $1, 'resolve_appeal', user_id, id,
                jsonb_build_object('accept', $3, 'note', $4::text) FROM a
         RETURNING user_id",
    )
    .bind(admin)
    .bind(appeal)
    .bind(accept)
    .bind(note)
    .fetch_optional(db)
    .await
}
