//! The broadcast endpoints (Talk document): list, create, detail, the voice
//! file for signed-in users, and replies (which open a conversation).

use warp::reply::Response;

use super::model::{Broadcast, Created, ReplyResponse};
use super::store::{self, Row};
use crate::conversations::store as conversations;
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{Page, created, ok};
use crate::media::handlers::{Fetch, serve_voice};
use crate::media::uploads::{self, VoiceForm};
use crate::messages;
use crate::moderation::store::blocked_either_way;
use crate::moderation::suspension;
use crate::ratelimit::{self, HOUR, Limit};
use crate::realtime::bus;
use crate::realtime::protocol::{BroadcastReply, Event};
use crate::session::AuthUser;
use crate::state::AppState;
use crate::users::model::UserSummary;
use crate::users::store::summary;

fn broadcast(state: &AppState, row: Row) -> Broadcast {
    Broadcast {
        voice_url: format!("{}/api/broadcasts/{}/voice", state.public_url, row.id),
        active: row.live(),
        id: row.id,
        user_id: row.user_id,
        expired_at: row.expired_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        duration_ms: row.duration_ms,
        user: UserSummary {
            id: row.user_id,
            nickname: row.nickname,
            gender: row.gender,
        },
    }
}

/// A broadcast `me` may see: their own, or a live one of someone not blocked either way.
async fn visible(state: &AppState, me: i64, id: i64) -> ApiResult<Row> {
    let row = store::find(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.user_id != me && (!row.live() || blocked_either_way(&state.db, me, row.user_id).await?) {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

#[utoipa::path(get, path = "/api/broadcasts", tag = "broadcasts", operation_id = "list_broadcasts",
    description = "Live broadcasts of others (never of users blocked either way), newest first.",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = Vec<Broadcast>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(state: AppState, me: AuthUser, page: ApiResult<Page>) -> ApiResult<Response> {
    let page = page?;
    let rows = store::live_for(&state.db, me.id, page.before, page.limit()?).await?;
    let list: Vec<Broadcast> = rows.into_iter().map(|r| broadcast(&state, r)).collect();
    ok(&list)
}

#[utoipa::path(post, path = "/api/broadcasts", tag = "broadcasts", operation_id = "create_broadcast",
    security(("bearer" = [])),
    request_body(content = VoiceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Created),
        (status = 401, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody, description = "Daily limit")))]
pub async fn create(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    suspension::ensure_active(&state, me.id).await?;
    let (voice, key) = uploads::voice_upload(&state, body).await?;
    let inserted = store::insert(&state.db, &state.cfg.talk, me.id, &key, voice.duration_ms).await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) => {
            uploads::delete_files(&state, std::slice::from_ref(&key)).await;
            return Err(e);
        }
    };
    let row = store::find(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    created(&Created {
        broadcast: broadcast(&state, row),
    })
}

#[utoipa::path(get, path = "/api/broadcasts/{id}", tag = "broadcasts", operation_id = "broadcast_detail",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = Broadcast),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "Missing, expired, or of a user blocked either way")))]
pub async fn detail(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    let row = visible(&state, me.id, id).await?;
    ok(&broadcast(&state, row))
}

#[utoipa::path(get, path = "/api/broadcasts/{id}/voice", tag = "broadcasts", operation_id = "broadcast_voice",
    description = "The voice file as uploaded, for signed-in users while the broadcast is live.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The audio bytes"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn voice(state: AppState, me: AuthUser, id: i64, fetch: Fetch) -> ApiResult<Response> {
    let key = visible(&state, me.id, id).await?.voice_key;
    serve_voice(&state, &key.ok_or(ApiError::NotFound)?, fetch).await
}

#[utoipa::path(post, path = "/api/broadcasts/{id}/reply", tag = "broadcasts", operation_id = "reply_to_broadcast",
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
        (status = 422, body = crate::error::ValidationErrorBody, description = "Own or expired broadcast, bad audio"),
        (status = 429, body = crate::error::RateLimitedBody, description = "REPLY_HOURLY_LIMIT")))]
pub async fn reply(state: AppState, me: AuthUser, id: i64, body: Body) -> ApiResult<Response> {
    suspension::ensure_active(&state, me.id).await?;
    let row = store::find(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
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
    let limit = Limit {
        key: state.redis.keys.rate("reply", &me.id.to_string()),
        window_sec: HOUR,
        max: state.cfg.quotas.replies_per_hour,
        text: messages::REPLY_LIMITED,
    };
    ratelimit::spend(&state.redis, limit).await?;
    let (voice, key) = uploads::voice_upload(&state, body).await?;
    let posted =
        conversations::reply_to(&state.db, me.id, row.user_id, &key, voice.duration_ms).await;
    let (conversation_id, message_id) = match posted {
        Ok(ids) => ids,
        Err(e) => {
            uploads::delete_files(&state, std::slice::from_ref(&key)).await;
            return Err(e.into());
        }
    };
    let from = summary(&state.db, me.id).await?;
    let event = Event::BroadcastReply(BroadcastReply {
        broadcast_id: id,
        conversation_id,
        message_id,
        from: &from,
    });
    let event = event.to_json();
    bus::publish(&state.redis, &[row.user_id], &event).await?;
    let what = format!("reply:{message_id}");
    state.push.offer(row.user_id, what, event);
    created(&ReplyResponse {
        message: messages::REPLIED,
        conversation_id,
    })
}
