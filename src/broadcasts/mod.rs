//! Voice broadcasts (Talk document): list, create, detail, reply, and the
//! broadcast's voice file for signed-in users.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, TOO_MANY_REQUESTS};
use crate::http::body::{Body, body};
use crate::http::{Page, auth, created, detached, ok, query, with_state};
use crate::media::{self, voice::MAX_VOICE_BYTES};
use crate::moderation::blocked_either_way;
use crate::ratelimit;
use crate::realtime::hub;
use crate::state::AppState;

/// Removes the voice files of expired broadcasts, every `MEDIA_CLEANUP_INTERVAL_SEC`.
pub fn spawn_cleanup(state: AppState, stop: tokio::sync::watch::Receiver<bool>) {
    let period = std::time::Duration::from_secs(state.cfg.talk.cleanup_interval_sec.max(1));
    crate::tasks::every(period, stop, move || {
        let state = state.clone();
        async move {
            if let Err(e) = clean_expired(&state).await {
                tracing::warn!(error = %e, "broadcast cleanup failed");
            }
        }
    });
}

/// Marks expired broadcasts inactive and deletes their files; returns how many.
pub async fn clean_expired(state: &AppState) -> ApiResult<usize> {
    let keys: Vec<String> = sqlx::query_scalar(
        "UPDATE broadcasts b SET active = false, voice_key = NULL, updated_at = now()
         FROM (SELECT id, voice_key FROM broadcasts
               WHERE expired_at <= now() AND voice_key IS NOT NULL
               LIMIT 500 FOR UPDATE SKIP LOCKED) old
         WHERE b.id = old.id
         RETURNING old.voice_key",
    )
    .fetch_all(&state.db)
    .await?;
    media::delete_files(state, &keys).await;
    Ok(keys.len())
}

pub const DAILY_LIMIT_REACHED: &str = "오늘 올릴 수 있는 브로드캐스트를 모두 올렸습니다.";

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let st = || with_state(state.clone());
    let list = warp::path!("api" / "broadcasts")
        .and(warp::get())
        .and(st())
        .and(auth(state.clone()))
        .and(query())
        .then(|s, a, q| detached(list(s, a, q)));
    let create = warp::path!("api" / "broadcasts")
        .and(warp::post())
        .and(st())
        .and(auth(state.clone()))
        .and(body())
        .then(|s, a, b| detached(create(s, a, b)));
    let detail = warp::path!("api" / "broadcasts" / i64)
        .and(warp::get())
        .and(st())
        .and(auth(state.clone()))
        .then(|id, s, a| detached(detail(s, a, id)));
    let voice = warp::path!("api" / "broadcasts" / i64 / "voice")
        .and(warp::get())
        .and(st())
        .and(auth(state.clone()))
        .then(|id, s, a| detached(voice(s, a, id)));
    let reply = warp::path!("api" / "broadcasts" / i64 / "reply")
        .and(warp::post())
        .and(st())
        .and(auth(state))
        .and(body())
        .then(|id, s, a, b| detached(reply(s, a, id, b)));
    list.or(create)
        .unify()
        .or(detail)
        .unify()
        .or(voice)
        .unify()
        .or(reply)
        .unify()
        .boxed()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: i64,
    pub nickname: String,
    pub gender: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    user_id: i64,
    active: bool,
    expired_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    duration_ms: Option<i32>,
    nickname: String,
    gender: Option<String>,
    voice_key: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Broadcast {
    id: i64,
    user_id: i64,
    active: bool,
    expired_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    user: UserSummary,
    /// Where signed-in users fetch the voice (`Authorization` or `?token=`).
    voice_url: String,
    duration_ms: Option<i32>,
}

impl Row {
    fn live(&self) -> bool {
        self.active && self.expired_at > Utc::now()
    }

    fn into_broadcast(self, state: &AppState) -> Broadcast {
        Broadcast {
            voice_url: format!("{}/api/broadcasts/{}/voice", state.public_url, self.id),
            id: self.id,
            user_id: self.user_id,
            active: self.live(),
            expired_at: self.expired_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            duration_ms: self.duration_ms,
            user: UserSummary {
                id: self.user_id,
                nickname: self.nickname,
                gender: self.gender,
            },
        }
    }
}

macro_rules! select_broadcast {
    ($rest:literal) => {
        concat!(
            "SELECT b.id, b.user_id, b.active, b.expired_at, b.created_at, b.updated_at, b.duration_ms,
                    COALESCE(u.nickname, u.username, '') AS nickname, u.gender, b.voice_key
             FROM broadcasts b JOIN users u ON u.id = b.user_id ",
            $rest
        )
    };
}

async fn find(state: &AppState, id: i64) -> ApiResult<Option<Row>> {
    Ok(sqlx::query_as(select_broadcast!("WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?)
}

/// A broadcast `me` may see: their own, or a live one of someone not blocked either way.
async fn visible(state: &AppState, me: i64, id: i64) -> ApiResult<Row> {
    let row = find(state, id).await?.ok_or(ApiError::NotFound)?;
    if row.user_id != me && (!row.live() || blocked_either_way(&state.db, me, row.user_id).await?) {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

#[utoipa::path(get, path = "/api/broadcasts", tag = "broadcasts",
    description = "Live broadcasts of others (never of users blocked either way), newest first.",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = Vec<Broadcast>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(
    state: AppState,
    auth: ApiResult<AuthUser>,
    page: ApiResult<Page>,
) -> ApiResult<Response> {
    let me = auth?;
    let page = page?;
    let rows: Vec<Row> = sqlx::query_as(select_broadcast!(
        "WHERE b.active AND b.expired_at > now() AND b.user_id <> $1
           AND NOT EXISTS (SELECT 1 FROM blocks k
                           WHERE (k.blocker_id = $1 AND k.blocked_id = b.user_id)
                              OR (k.blocker_id = b.user_id AND k.blocked_id = $1))
           AND ($2::int8 IS NULL OR b.id < $2)
         ORDER BY b.id DESC LIMIT $3"
    ))
    .bind(me.id)
    .bind(page.before)
    .bind(page.limit()?)
    .fetch_all(&state.db)
    .await?;
    let list: Vec<Broadcast> = rows.into_iter().map(|r| r.into_broadcast(&state)).collect();
    ok(&list)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    broadcast: Broadcast,
}

/// Describes the multipart form for OpenAPI; the handlers read the parts themselves.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct VoiceForm {
    /// AAC, M4A, MP3, Ogg, WAV or WebM; at most 10 MB and 60 s.
    #[schema(value_type = String, format = Binary)]
    voice_file: Vec<u8>,
}

/// The `voice_file` part of a multipart body, checked and stored.
pub async fn voice_upload(
    state: &AppState,
    body: Body,
) -> ApiResult<(media::voice::Voice, String)> {
    let mut form = body.multipart(&["voice_file"], MAX_VOICE_BYTES).await?;
    let upload = form
        .files
        .remove("voice_file")
        .filter(|u| !u.data.is_empty())
        .ok_or_else(|| ApiError::validation("voice_file: required"))?;
    media::save_voice(state, upload.data).await
}

#[utoipa::path(post, path = "/api/broadcasts", tag = "broadcasts",
    security(("bearer" = [])),
    request_body(content = VoiceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Created),
        (status = 401, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody, description = "Daily limit")))]
pub async fn create(state: AppState, auth: ApiResult<AuthUser>, body: Body) -> ApiResult<Response> {
    let me = auth?;
    let cfg = &state.cfg.talk;
    let (voice, key) = voice_upload(&state, body).await?;
    let inserted = async {
        let mut tx = state.db.begin().await?;
        // one at a time per user, so that the daily count cannot be raced
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(me.id)
            .execute(&mut *tx)
            .await?;
        let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT count(*), min(created_at) FROM broadcasts
             WHERE user_id = $1 AND created_at > now() - interval '1 day'",
        )
        .bind(me.id)
        .fetch_one(&mut *tx)
        .await?;
        if count >= cfg.broadcast_daily_limit {
            let free_at = oldest.unwrap_or_else(Utc::now) + Duration::days(1);
            return Err(ApiError::RateLimited {
                message: DAILY_LIMIT_REACHED,
                wait_seconds: (free_at - Utc::now()).num_seconds().max(1) as u64,
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO broadcasts (user_id, voice_key, duration_ms, expired_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING id",
        )
        .bind(me.id)
        .bind(&key)
        .bind(voice.duration_ms.map(|d| d as i32))
        .bind(cfg.broadcast_ttl_sec as f64)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<i64, ApiError>(id)
    }
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) => {
            media::delete_files(&state, &[key]).await;
            return Err(e);
        }
    };
    let row = find(&state, id).await?.ok_or(ApiError::NotFound)?;
    created(&Created {
        broadcast: row.into_broadcast(&state),
    })
}

#[utoipa::path(get, path = "/api/broadcasts/{id}", tag = "broadcasts",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = Broadcast),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "Missing, expired, or of a user blocked either way")))]
pub async fn detail(state: AppState, auth: ApiResult<AuthUser>, id: i64) -> ApiResult<Response> {
    let me = auth?;
    ok(&visible(&state, me.id, id).await?.into_broadcast(&state))
}

#[utoipa::path(get, path = "/api/broadcasts/{id}/voice", tag = "broadcasts",
    description = "The voice file as uploaded, for signed-in users while the broadcast is live.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The audio bytes"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn voice(state: AppState, auth: ApiResult<AuthUser>, id: i64) -> ApiResult<Response> {
    let me = auth?;
    let key = visible(&state, me.id, id).await?.voice_key;
    media::serve_voice(&state, &key.ok_or(ApiError::NotFound)?).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplyResponse {
    message: &'static str,
    conversation_id: i64,
}

#[derive(Serialize)]
struct BroadcastReply<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    broadcast_id: i64,
    conversation_id: i64,
    message_id: i64,
    from: &'a UserSummary,
}

#[utoipa::path(post, path = "/api/broadcasts/{id}/reply", tag = "broadcasts",
    description = "Opens (or reuses) the 1:1 conversation with the broadcaster, with the reply as a message.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body(content = VoiceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = ReplyResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Blocked either way"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "Own or expired broadcast, bad audio")))]
pub async fn reply(
    state: AppState,
    auth: ApiResult<AuthUser>,
    id: i64,
    body: Body,
) -> ApiResult<Response> {
    let me = auth?;
    let row = find(&state, id).await?.ok_or(ApiError::NotFound)?;
    if row.user_id == me.id {
        return Err(ApiError::validation(
            "broadcast: you cannot reply to your own broadcast",
        ));
    }
    if blocked_either_way(&state.db, me.id, row.user_id).await? {
        return Err(ApiError::Forbidden);
    }
    if !row.live() {
        return Err(ApiError::validation("broadcast: it has expired"));
    }
    let limit = ratelimit::Limit {
        key: state.redis.keys.rate("reply", &me.id.to_string()),
        window_sec: 3600,
        max: state.cfg.quotas.replies_per_hour,
        message: TOO_MANY_REQUESTS,
    };
    ratelimit::spend(&state.redis, limit).await?;
    let (voice, key) = voice_upload(&state, body).await?;
    let posted =
        crate::conversations::reply_to(&state, me.id, row.user_id, &key, voice.duration_ms).await;
    let (conversation_id, message_id) = match posted {
        Ok(ids) => ids,
        Err(e) => {
            media::delete_files(&state, &[key]).await;
            return Err(e);
        }
    };
    let from = crate::conversations::summary(&state, me.id).await?;
    let event = BroadcastReply {
        kind: "broadcast_reply",
        broadcast_id: id,
        conversation_id,
        message_id,
        from: &from,
    };
    let json = serde_json::to_string(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    hub::publish(&state.redis, &[row.user_id], &json).await?;
    created(&ReplyResponse {
        message: "답장 완료",
        conversation_id,
    })
}
