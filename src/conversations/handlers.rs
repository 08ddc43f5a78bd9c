//! The conversation endpoints (Talk document). Only their two users see or
//! post; `favorite` and `deleted` are per viewer; a delete closes the
//! conversation for posting; a block hides it and stops messages both ways.

use warp::reply::Response;

use super::model::{Detail, ListItem, Message, Sender, Sent};
use super::store::{self, Row};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, Page, created, message, ok};
use crate::media::handlers::{Fetch, serve_voice};
use crate::media::uploads::{self, VoiceForm};
use crate::messages;
use crate::moderation::store::blocked_either_way;
use crate::moderation::suspension;
use crate::ratelimit::{self, HOUR, Limit};
use crate::realtime::bus;
use crate::realtime::protocol::{Event, NewMessage};
use crate::session::AuthUser;
use crate::state::AppState;
use crate::users::store::summary;

/// A conversation `me` may open: 404 if missing, hidden for them or blocked; 403 if not theirs.
async fn open(state: &AppState, me: i64, id: i64) -> ApiResult<Row> {
    let row = store::load(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !row.has(me) {
        return Err(ApiError::Forbidden);
    }
    if row.hidden_for(me) || blocked_either_way(&state.db, me, row.partner(me)).await? {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

pub fn voice_url(state: &AppState, conversation: i64, message: i64) -> String {
    format!(
        "{}/api/conversations/{conversation}/messages/{message}/voice",
        state.public_url
    )
}

#[utoipa::path(get, path = "/api/conversations", tag = "conversations", operation_id = "list_conversations",
    description = "The viewer's conversations (not deleted by them, not with users blocked either way), \
                   most recent activity first; `before` is a conversation id.",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = Vec<ListItem>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(state: AppState, me: AuthUser, page: ApiResult<Page>) -> ApiResult<Response> {
    let page = page?;
    ok(&store::list(&state.db, me.id, page.before, page.limit()?).await?)
}

#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations", operation_id = "conversation_detail",
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
    me: AuthUser,
    id: i64,
    page: ApiResult<Page>,
) -> ApiResult<Response> {
    let page = page?;
    let limit = page.limit()?;
    let row = open(&state, me.id, id).await?;
    store::mark_read(&state.db, id, me.id).await?;
    let messages = store::messages(&state.db, id, page.before, limit)
        .await?
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

#[utoipa::path(post, path = "/api/conversations/{id}/send_message", tag = "conversations", operation_id = "send_message",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body(content = VoiceForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Sent),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not yours, closed, or blocked either way"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody),
        (status = 429, body = crate::error::RateLimitedBody, description = "MESSAGE_HOURLY_LIMIT")))]
pub async fn send_message(
    state: AppState,
    me: AuthUser,
    id: i64,
    body: Body,
) -> ApiResult<Response> {
    suspension::ensure_active(&state, me.id).await?;
    let row = store::load(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !row.has(me.id)
        || !row.active
        || blocked_either_way(&state.db, me.id, row.partner(me.id)).await?
    {
        return Err(ApiError::Forbidden);
    }
    let limit = Limit {
        key: state.redis.keys.rate("message", &me.id.to_string()),
        window_sec: HOUR,
        max: state.cfg.quotas.messages_per_hour,
        text: messages::MESSAGE_LIMITED,
    };
    ratelimit::spend(&state.redis, limit).await?;
    let (voice, key) = uploads::voice_upload(&state, body).await?;
    let posted = store::post(&state.db, id, me.id, &key, voice.duration_ms)
        .await
        .map_err(ApiError::from)
        // closed or deleted meanwhile: nothing is posted
        .and_then(|posted| posted.ok_or(ApiError::Forbidden));
    let message_id = match posted {
        Ok(message_id) => message_id,
        Err(e) => {
            uploads::delete_files(&state, std::slice::from_ref(&key)).await;
            return Err(e);
        }
    };
    let sender = summary(&state.db, me.id).await?;
    let url = voice_url(&state, id, message_id);
    let event = Event::NewMessage(NewMessage {
        conversation_id: id,
        message_id,
        sender: &sender,
        voice_url: &url,
    });
    let event = event.to_json();
    bus::publish(&state.redis, &[row.partner(me.id)], &event).await?;
    let what = format!("message:{message_id}");
    state.push.offer(row.partner(me.id), what, event);
    created(&Sent {
        message: messages::MESSAGE_SENT,
        message_id,
    })
}

#[utoipa::path(post, path = "/api/conversations/{id}/favorite", tag = "conversations", operation_id = "favorite_conversation",
    description = "Per viewer.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn favorite(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    set_favorite(state, me, id, true).await
}

#[utoipa::path(post, path = "/api/conversations/{id}/unfavorite", tag = "conversations", operation_id = "unfavorite_conversation",
    description = "Per viewer.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn unfavorite(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    set_favorite(state, me, id, false).await
}

async fn set_favorite(
    state: AppState,
    me: AuthUser,
    id: i64,
    favorite: bool,
) -> ApiResult<Response> {
    let row = open(&state, me.id, id).await?;
    store::set_favorite(&state.db, &row, me.id, favorite).await?;
    message(if favorite {
        messages::FAVORITED
    } else {
        messages::UNFAVORITED
    })
}

#[utoipa::path(delete, path = "/api/conversations/{id}", tag = "conversations", operation_id = "delete_conversation",
    description = "Hides the conversation for the caller and closes it for posting; once both \
                   deleted it, it is removed with its voice files.",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(state: AppState, me: AuthUser, id: i64) -> ApiResult<Response> {
    let row = open(&state, me.id, id).await?;
    let removed = store::hide(&state.db, &row, me.id).await?;
    uploads::delete_files(&state, &removed).await;
    message(messages::CONVERSATION_DELETED)
}

#[utoipa::path(get, path = "/api/conversations/{id}/messages/{message_id}/voice", tag = "conversations", operation_id = "message_voice",
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
    me: AuthUser,
    id: i64,
    message: i64,
    fetch: Fetch,
) -> ApiResult<Response> {
    open(&state, me.id, id).await?;
    let key = store::voice_key(&state.db, id, message).await?;
    serve_voice(&state, &key.ok_or(ApiError::NotFound)?, fetch).await
}
