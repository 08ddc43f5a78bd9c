//! 1:1 voice conversations (Talk document). Only their two users see or post;
//! `favorite` and `deleted` are per viewer; a delete closes the conversation
//! for posting; a block hides it and stops messages both ways.

use chrono::{DateTime, Utc};
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::broadcasts::{UserSummary, VoiceForm, voice_upload};
use crate::error::{ApiError, ApiResult, TOO_MANY_REQUESTS};
use crate::http::body::{Body, body};
use crate::http::{Page, auth, created, detached, ok, query, with_state};
use crate::media;
use crate::moderation::blocked_either_way;
use crate::ratelimit;
use crate::realtime::hub;
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let st = || with_state(state.clone());
    let a = || auth(state.clone());
    let list = warp::path!("api" / "conversations")
        .and(warp::get())
        .and(st())
        .and(a())
        .and(query())
        .then(|s, a, q| detached(list(s, a, q)));
    let detail = warp::path!("api" / "conversations" / i64)
        .and(warp::get())
        .and(st())
        .and(a())
        .and(query())
        .then(|id, s, a, q| detached(detail(s, a, id, q)));
    let delete = warp::path!("api" / "conversations" / i64)
        .and(warp::delete())
        .and(st())
        .and(a())
        .then(|id, s, a| detached(delete(s, a, id)));
    let send = warp::path!("api" / "conversations" / i64 / "send_message")
        .and(warp::post())
        .and(st())
        .and(a())
        .and(body())
        .then(|id, s, a, b| detached(send_message(s, a, id, b)));
    let favorite = warp::path!("api" / "conversations" / i64 / "favorite")
        .and(warp::post())
        .and(st())
        .and(a())
        .then(|id, s, a| detached(favorite(s, a, id)));
    let unfavorite = warp::path!("api" / "conversations" / i64 / "unfavorite")
        .and(warp::post())
        .and(st())
        .and(a())
        .then(|id, s, a| detached(unfavorite(s, a, id)));
    let voice = warp::path!("api" / "conversations" / i64 / "messages" / i64 / "voice")
        .and(warp::get())
        .and(st())
        .and(a())
        .then(|id, mid, s, a| detached(message_voice(s, a, id, mid)));
    list.or(detail)
        .unify()
        .or(delete)
        .unify()
        .or(send)
        .unify()
        .or(favorite)
        .unify()
        .or(unfavorite)
        .unify()
        .or(voice)
        .unify()
        .boxed()
}

/// `{id, nickname, gender}` of a user.
pub async fn summary(state: &AppState, uid: i64) -> ApiResult<UserSummary> {
    let (id, nickname, gender): (i64, String, Option<String>) = sqlx::query_as(
        "SELECT id, COALESCE(nickname, username, ''), gender FROM users WHERE id = $1",
    )
    .bind(uid)
    .fetch_one(&state.db)
    .await?;
    Ok(UserSummary {
        id,
        nickname,
        gender,
    })
}

/// Opens (or reopens) the conversation of two users with a first message;
/// concurrent replies of one pair make one conversation.
pub async fn reply_to(
    state: &AppState,
    from: i64,
    to: i64,
    voice_key: &str,
    duration_ms: Option<i64>,
) -> ApiResult<(i64, i64)> {
    let (a, b) = (from.min(to), from.max(to));
    let mut tx = state.db.begin().await?;
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

async fn insert_message(
    tx: &mut sqlx::PgConnection,
    conversation: i64,
    sender: i64,
    voice_key: &str,
    duration_ms: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, sender_id, voice_key, duration_ms) VALUES ($1, $2, $3, $4) RETURNING id",
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
struct Row {
    id: i64,
    user_a: i64,
    user_b: i64,
    active: bool,
    a_hidden: bool,
    b_hidden: bool,
    a_favorite: bool,
    b_favorite: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
}

impl Row {
    fn is_a(&self, me: i64) -> bool {
        self.user_a == me
    }

    fn partner(&self, me: i64) -> i64 {
        if self.is_a(me) {
            self.user_b
        } else {
            self.user_a
        }
    }

    fn hidden_for(&self, me: i64) -> bool {
        if self.is_a(me) {
            self.a_hidden
        } else {
            self.b_hidden
        }
    }

    fn view(&self, me: i64) -> Conversation {
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct Conversation {
    id: i64,
    user_a_id: i64,
    user_b_id: i64,
    active: bool,
    /// The viewer's own flag.
    favorite: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_a, user_b, active, a_hidden, b_hidden, a_favorite, b_favorite, \
                       created_at, updated_at, last_message_at";

async fn load(state: &AppState, id: i64) -> ApiResult<Row> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM conversations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
    row.ok_or(ApiError::NotFound)
}

/// A conversation `me` may open: 404 if missing, hidden for them or blocked; 403 if not theirs.
async fn open(state: &AppState, me: i64, id: i64) -> ApiResult<Row> {
    let row = load(state, id).await?;
    if row.user_a != me && row.user_b != me {
        return Err(ApiError::Forbidden);
    }
    if row.hidden_for(me) || blocked_either_way(&state.db, me, row.partner(me)).await? {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ListItem {
    #[serde(flatten)]
    #[sqlx(flatten)]
    conversation: ListRow,
    user_a: UserSummary,
    user_b: UserSummary,
    unread_count: i64,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ListRow {
    id: i64,
    user_a_id: i64,
    user_b_id: i64,
    active: bool,
    favorite: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ListQueryRow {
    #[sqlx(flatten)]
    conversation: ListRow,
    a_nickname: String,
    a_gender: Option<String>,
    b_nickname: String,
    b_gender: Option<String>,
    unread_count: i64,
}

#[utoipa::path(get, path = "/api/conversations", tag = "conversations",
    description = "The viewer's conversations (not deleted by them, not with users blocked either way), \
                   most recent activity first; `before` is a conversation id.",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = Vec<ListItem>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(
    state: AppState,
    auth: ApiResult<AuthUser>,
    page: ApiResult<Page>,
) -> ApiResult<Response> {
    let me = auth?;
    let page = page?;
    let rows: Vec<ListQueryRow> = sqlx::query_as(
        "SELECT c.id, c.user_a AS user_a_id, c.user_b AS user_b_id, c.active,
                CASE WHEN c.user_a = $1 THEN c.a_favorite ELSE c.b_favorite END AS favorite,
                c.created_at, c.updated_at, c.last_message_at,
                COALESCE(ua.nickname, ua.username, '') AS a_nickname, ua.gender AS a_gender,
                COALESCE(ub.nickname, ub.username, '') AS b_nickname, ub.gender AS b_gender,
                (SELECT count(*) FROM messages m
                 WHERE m.conversation_id = c.id AND m.sender_id <> $1 AND NOT m.read) AS unread_count
         FROM conversations c
         JOIN users ua ON ua.id = c.user_a
         JOIN users ub ON ub.id = c.user_b
         WHERE ((c.user_a = $1 AND NOT c.a_hidden) OR (c.user_b = $1 AND NOT c.b_hidden))
           AND NOT EXISTS (SELECT 1 FROM blocks k
                           WHERE (k.blocker_id = c.user_a AND k.blocked_id = c.user_b)
                              OR (k.blocker_id = c.user_b AND k.blocked_id = c.user_a))
           AND ($2::int8 IS NULL OR (c.last_message_at, c.id) <
                (SELECT last_message_at, id FROM conversations WHERE id = $2))
         ORDER BY c.last_message_at DESC, c.id DESC
         LIMIT $3",
    )
    .bind(me.id)
    .bind(page.before)
    .bind(page.limit()?)
    .fetch_all(&state.db)
    .await?;
    let items: Vec<ListItem> = rows
        .into_iter()
        .map(|r| ListItem {
            user_a: UserSummary {
                id: r.conversation.user_a_id,
                nickname: r.a_nickname,
                gender: r.a_gender,
            },
            user_b: UserSummary {
                id: r.conversation.user_b_id,
                nickname: r.b_nickname,
                gender: r.b_gender,
            },
            unread_count: r.unread_count,
            conversation: r.conversation,
        })
        .collect();
    ok(&items)
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    conversation_id: i64,
    sender_id: i64,
    read: bool,
    duration_ms: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    nickname: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Message {
    id: i64,
    conversation_id: i64,
    sender_id: i64,
    read: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    sender: Sender,
    /// Where the two participants fetch the voice (`Authorization` or `?token=`).
    voice_url: String,
    duration_ms: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Sender {
    id: i64,
    nickname: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Detail {
    conversation: Conversation,
    /// Newest first; `limit` and `before` (a message id) page through them.
    messages: Vec<Message>,
}

#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations",
    description = "Marks the partner's messages read.",
    security(("bearer" = [])),
    params(("id" = i64, Path), Page),
    responses(
        (status = 200, body = Detail),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn detail(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
    page: ApiResult<Page>,
) -> ApiResult<Response> {
    let me = auth?;
    let page = page?;
    let limit = page.limit()?;
    let row = open(&state, me.id, id).await?;
    sqlx::query(
        "UPDATE messages SET read = true, updated_at = now()
         WHERE conversation_id = $1 AND sender_id <> $2 AND NOT read",
    )
    .bind(id)
    .bind(me.id)
    .execute(&state.db)
    .await?;
    let rows: Vec<MessageRow> = sqlx::query_as(
        "SELECT m.id, m.conversation_id, m.sender_id, m.read, m.duration_ms, m.created_at, m.updated_at,
                COALESCE(u.nickname, u.username, '') AS nickname
         FROM messages m JOIN users u ON u.id = m.sender_id
         WHERE m.conversation_id = $1 AND ($2::int8 IS NULL OR m.id < $2)
         ORDER BY m.id DESC LIMIT $3",
    )
    .bind(id)
    .bind(page.before)
    .bind(limit)
    .fetch_all(&state.db)
    .await?;
    let messages = rows
        .into_iter()
        .map(|m| Message {
            voice_url: voice_url(&state, m.conversation_id, m.id),
            id: m.id,
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            read: m.read,
            created_at: m.created_at,
            updated_at: m.updated_at,
            duration_ms: m.duration_ms,
            sender: Sender {
                id: m.sender_id,
                nickname: m.nickname,
            },
        })
        .collect();
    ok(&Detail {
        conversation: row.view(me.id),
        messages,
    })
}

fn voice_url(state: &AppState, conversation: i64, message: i64) -> String {
    format!(
        "{}/api/conversations/{conversation}/messages/{message}/voice",
        state.public_url
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Sent {
    message: &'static str,
    message_id: i64,
}

#[derive(Serialize)]
struct NewMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: i64,
    message_id: i64,
    sender: &'a UserSummary,
    voice_url: String,
}

#[utoipa::path(post, path = "/api/conversations/{id}/send_message", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body(content = VoiceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Sent),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not yours, closed, or blocked either way"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn send_message(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
    body: Body,
) -> ApiResult<Response> {
    let me = auth?;
    let row = load(&state, id).await?;
    if (row.user_a != me.id && row.user_b != me.id)
        || !row.active
        || blocked_either_way(&state.db, me.id, row.partner(me.id)).await?
    {
        return Err(ApiError::Forbidden);
    }
    let limit = ratelimit::Limit {
        key: state.redis.keys.rate("message", &me.id.to_string()),
        window_sec: 3600,
        max: state.cfg.quotas.messages_per_hour,
        message: TOO_MANY_REQUESTS,
    };
    ratelimit::spend(&state.redis, limit).await?;
    let (voice, key) = voice_upload(&state, body).await?;
    let inserted = async {
        let mut tx = state.db.begin().await?;
        // closed or deleted meanwhile: nothing is posted
        let still_open: bool =
            sqlx::query_scalar("SELECT active FROM conversations WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if !still_open {
            return Err(ApiError::Forbidden);
        }
        let mid = insert_message(&mut tx, id, me.id, &key, voice.duration_ms).await?;
        tx.commit().await?;
        Ok::<i64, ApiError>(mid)
    }
    .await;
    let message_id = match inserted {
        Ok(mid) => mid,
        Err(e) => {
            media::delete_files(&state, &[key]).await;
            return Err(e);
        }
    };
    let sender = summary(&state, me.id).await?;
    let event = NewMessage {
        kind: "new_message",
        conversation_id: id,
        message_id,
        sender: &sender,
        voice_url: voice_url(&state, id, message_id),
    };
    let json = serde_json::to_string(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    hub::publish(&state.redis, &[row.partner(me.id)], &json).await?;
    created(&Sent {
        message: "메시지 전송 완료",
        message_id,
    })
}

#[utoipa::path(post, path = "/api/conversations/{id}/favorite", tag = "conversations",
    description = "Per viewer.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = crate::auth::account::MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn favorite(state: AppState, auth: ApiResult<AuthUser>, id: i64) -> ApiResult<Response> {
    set_favorite(state, auth, id, true).await
}

#[utoipa::path(post, path = "/api/conversations/{id}/unfavorite", tag = "conversations",
    description = "Per viewer.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = crate::auth::account::MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn unfavorite(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
) -> ApiResult<Response> {
    set_favorite(state, auth, id, false).await
}

async fn set_favorite(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
    favorite: bool,
) -> ApiResult<Response> {
    let me = auth?;
    let row = open(&state, me.id, id).await?;
    let column = if row.is_a(me.id) {
        "a_favorite"
    } else {
        "b_favorite"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE conversations SET {column} = $2, updated_at = now() WHERE id = $1"
    )))
    .bind(id)
    .bind(favorite)
    .execute(&state.db)
    .await?;
    ok(&crate::auth::account::MessageResponse {
        message: if favorite {
            "즐겨찾기 등록 완료"
        } else {
            "즐겨찾기 해제 완료"
        },
    })
}

#[utoipa::path(delete, path = "/api/conversations/{id}", tag = "conversations",
    description = "Hides the conversation for the caller and closes it for posting; once both \
                   deleted it, it is removed with its voice files.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = crate::auth::account::MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(state: AppState, auth: ApiResult<AuthUser>, id: i64) -> ApiResult<Response> {
    let me = auth?;
    let row = open(&state, me.id, id).await?;
    let column = if row.is_a(me.id) {
        "a_hidden"
    } else {
        "b_hidden"
    };
    let both_hidden: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE conversations SET {column} = true, active = false, updated_at = now()
         WHERE id = $1 RETURNING a_hidden AND b_hidden"
    )))
    .bind(id)
    .fetch_one(&state.db)
    .await?;
    if both_hidden {
        let keys: Vec<String> = sqlx::query_scalar(
            "WITH gone AS (DELETE FROM conversations WHERE id = $1 AND a_hidden AND b_hidden RETURNING id)
             SELECT voice_key FROM messages WHERE conversation_id IN (SELECT id FROM gone)",
        )
        .bind(id)
        .fetch_all(&state.db)
        .await?;
        media::delete_files(&state, &keys).await;
    }
    ok(&crate::auth::account::MessageResponse {
        message: "대화방이 삭제되었습니다.",
    })
}

#[utoipa::path(get, path = "/api/conversations/{id}/messages/{message_id}/voice", tag = "conversations",
    description = "A message's voice file as uploaded, for the two participants only.",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("message_id" = i64, Path)),
    responses(
        (status = 200, description = "The audio bytes"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn message_voice(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
    message: i64,
) -> ApiResult<Response> {
    let me = auth?;
    open(&state, me.id, id).await?;
    let key: Option<String> =
        sqlx::query_scalar("SELECT voice_key FROM messages WHERE id = $1 AND conversation_id = $2")
            .bind(message)
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
    media::serve_voice(&state, &key.ok_or(ApiError::NotFound)?).await
}
