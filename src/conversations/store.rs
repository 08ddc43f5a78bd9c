//! SQL of conversations and their voice messages.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{Conversation, ListItem};
use crate::users::model::UserSummary;

/// A conversation as stored: flags of both sides.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub user_a: i64,
    pub user_b: i64,
    pub active: bool,
    a_hidden: bool,
    b_hidden: bool,
    a_favorite: bool,
    b_favorite: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
}

impl Row {
    pub fn is_a(&self, me: i64) -> bool {
        self.user_a == me
    }

    pub fn has(&self, me: i64) -> bool {
        self.user_a == me || self.user_b == me
    }

    pub fn partner(&self, me: i64) -> i64 {
        if self.is_a(me) {
            self.user_b
        } else {
            self.user_a
        }
    }

    pub fn hidden_for(&self, me: i64) -> bool {
        if self.is_a(me) {
            self.a_hidden
        } else {
            self.b_hidden
        }
    }

    /// The conversation as `me` sees it (their own favorite flag).
    pub fn view(&self, me: i64) -> Conversation {
        Conversation {
            id: self.id,
            user_a_id: self.user_a,
            user_b_id: self.user_b,
            active: self.active,
            favorite: if self.is_a(me) {
                self.a_favorite
            } else {
                self.b_favorite
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_message_at: self.last_message_at,
        }
    }
}

pub async fn load(db: &PgPool, id: i64) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_a, user_b, active, a_hidden, b_hidden, a_favorite, b_favorite,
                created_at, updated_at, last_message_at
         FROM conversations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Opens (or reopens) the conversation of two users with a first message;
/// concurrent replies of one pair make one conversation. Returns the
/// conversation and message ids.
pub async fn reply_to(
    db: &PgPool,
    from: i64,
    to: i64,
    voice_key: &str,
    duration_ms: Option<i64>,
) -> Result<(i64, i64), sqlx::Error> {
    let (a, b) = (from.min(to), from.max(to));
    let mut tx = db.begin().await?;
    let conversation: i64 = sqlx::query_scalar(
        "INSERT INTO conversations (user_a, user_b) VALUES ($1, $2)
         ON CONFLICT (user_a, user_b) DO UPDATE
             SET active = true, a_hidden = false, b_hidden = false, updated_at = now()
         RETURNING id",
    )
    .bind(a)
    .bind(b)
    .fetch_one(&mut *tx)
    .await?;
    let message = insert_message(&mut tx, conversation, from, voice_key, duration_ms).await?;
    tx.commit().await?;
    Ok((conversation, message))
}

/// Posts a message into an open conversation; `None` when it was closed (or
/// deleted) meanwhile, and then nothing is posted.
pub async fn post(
    db: &PgPool,
    conversation: i64,
    sender: i64,
    voice_key: &str,
    duration_ms: Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let still_open: bool =
        sqlx::query_scalar("SELECT active FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(conversation)
            .fetch_one(&mut *tx)
            .await?;
    if !still_open {
        return Ok(None);
    }
    let id = insert_message(&mut tx, conversation, sender, voice_key, duration_ms).await?;
    tx.commit().await?;
    Ok(Some(id))
}

async fn insert_message(
    tx: &mut PgConnection,
    conversation: i64,
    sender: i64,
    voice_key: &str,
    duration_ms: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, sender_id, voice_key, duration_ms)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(conversation)
    .bind(sender)
    .bind(voice_key)
    .bind(duration_ms.map(|d| d as i32))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE conversations SET last_message_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind(conversation)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct ListRow {
    id: i64,
    user_a_id: i64,
    user_b_id: i64,
    active: bool,
    favorite: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
    a_nickname: String,
    a_gender: Option<String>,
    b_nickname: String,
    b_gender: Option<String>,
    unread_count: i64,
}

/// `me`'s conversations (not deleted by them, not with users blocked either
/// way), most recent activity first; `before` is a conversation id.
pub async fn list(
    db: &PgPool,
    me: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ListItem>, sqlx::Error> {
    let rows: Vec<ListRow> = sqlx::query_as(
        "SELECT c.id, c.user_a AS user_a_id, c.user_b AS user_b_id, c.active,
                CASE WHEN c.user_a = $1 THEN c.a_favorite ELSE c.b_favorite END AS favorite,
                c.created_at, c.updated_at, c.last_message_at,
                ua.shown_nickname AS a_nickname, ua.gender AS a_gender,
                ub.shown_nickname AS b_nickname, ub.gender AS b_gender,
                (SELECT count(*) FROM messages m
                 WHERE m.conversation_id = c.id AND m.sender_id <> $1 AND NOT m.read) AS unread_count
         FROM conversations c
         JOIN users ua ON ua.id = c.user_a
         JOIN users ub ON ub.id = c.user_b
         WHERE ((c.user_a = $1 AND NOT c.a_hidden) OR (c.user_b = $1 AND NOT c.b_hidden))
           AND NOT EXISTS (SELECT 1 FROM blocked_with(c.user_a) AS x WHERE x = c.user_b)
           AND ($2::int8 IS NULL OR (c.last_message_at, c.id) <
                (SELECT last_message_at, id FROM conversations WHERE id = $2))
         ORDER BY c.last_message_at DESC, c.id DESC
         LIMIT $3",
    )
    .bind(me)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ListItem {
            conversation: Conversation {
                id: r.id,
                user_a_id: r.user_a_id,
                user_b_id: r.user_b_id,
                active: r.active,
                favorite: r.favorite,
                created_at: r.created_at,
                updated_at: r.updated_at,
                last_message_at: r.last_message_at,
            },
            user_a: UserSummary {
                id: r.user_a_id,
                nickname: r.a_nickname,
                gender: r.a_gender,
            },
            user_b: UserSummary {
                id: r.user_b_id,
                nickname: r.b_nickname,
                gender: r.b_gender,
            },
            unread_count: r.unread_count,
        })
        .collect())
}

/// Marks the partner's messages of a conversation read by `me`.
pub async fn mark_read(db: &PgPool, conversation: i64, me: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE messages SET read = true, updated_at = now()
         WHERE conversation_id = $1 AND sender_id <> $2 AND NOT read",
    )
    .bind(conversation)
    .bind(me)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: i64,
    pub sender_id: i64,
    pub read: bool,
    pub duration_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub nickname: String,
}

/// A page of a conversation's messages, newest first.
pub async fn messages(
    db: &PgPool,
    conversation: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.conversation_id, m.sender_id, m.read, m.duration_ms, m.created_at,
                m.updated_at, u.shown_nickname AS nickname
         FROM messages m JOIN users u ON u.id = m.sender_id
         WHERE m.conversation_id = $1 AND ($2::int8 IS NULL OR m.id < $2)
         ORDER BY m.id DESC LIMIT $3",
    )
    .bind(conversation)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Sets the viewer's favorite flag.
pub async fn set_favorite(
    db: &PgPool,
    row: &Row,
    me: i64,
    favorite: bool,
) -> Result<(), sqlx::Error> {
    let sql = if row.is_a(me) {
        "UPDATE conversations SET a_favorite = $2, updated_at = now() WHERE id = $1"
    } else {
        "UPDATE conversations SET b_favorite = $2, updated_at = now() WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(row.id)
        .bind(favorite)
        .execute(db)
        .await?;
    Ok(())
}

/// Hides the conversation for `me` and closes it for posting; once both
/// sides hid it, it is removed, and the keys of its voice files are returned.
pub async fn hide(db: &PgPool, row: &Row, me: i64) -> Result<Vec<String>, sqlx::Error> {
    let sql = if row.is_a(me) {
        "UPDATE conversations SET a_hidden = true, active = false, updated_at = now()
         WHERE id = $1 RETURNING a_hidden AND b_hidden"
    } else {
        "UPDATE conversations SET b_hidden = true, active = false, updated_at = now()
         WHERE id = $1 RETURNING a_hidden AND b_hidden"
    };
    let both_hidden: bool = sqlx::query_scalar(sql).bind(row.id).fetch_one(db).await?;
    if !both_hidden {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "WITH gone AS (DELETE FROM conversations WHERE id = $1 AND a_hidden AND b_hidden RETURNING id)
         SELECT voice_key FROM messages WHERE conversation_id IN (SELECT id FROM gone)",
    )
    .bind(row.id)
    .fetch_all(db)
    .await
}

/// The voice file of a message of a conversation.
pub async fn voice_key(
    db: &PgPool,
    conversation: i64,
    message: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT voice_key FROM messages WHERE id = $1 AND conversation_id = $2")
        .bind(message)
        .bind(conversation)
        .fetch_optional(db)
        .await
}
