//! `GET/PUT /api/user/profile/` of the matching document, and `DELETE /api/user/`.

use warp::reply::Response;

use super::model::{DeleteAccountRequest, ProfileForm, ProfileResponse};
use super::store as users;
use crate::auth::{password, validate};
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, message, ok};
use crate::matching::service as matching;
use crate::media::{self, uploads};
use crate::messages;
use crate::session::AuthUser;
use crate::sms::store as sms;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/user/profile/", tag = "user", operation_id = "get_profile",
    security(("bearer" = [])),
    responses((status = 200, body = ProfileResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn get_profile(state: AppState, me: AuthUser) -> ApiResult<Response> {
    let user = users::by_id(&state.db, me.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    ok(&ProfileResponse {
        id: user.id,
        username: user.shown_username,
        nickname: user.shown_nickname,
        phone_number: user.phone_number,
        age: user.age,
        gender: user.gender,
        profile_image: user.profile_image.as_deref().map(|k| media::url(&state, k)),
        gems: user.gems,
        created_at: user.created_at,
    })
}

#[utoipa::path(put, path = "/api/user/profile/", tag = "user", operation_id = "update_profile",
    security(("bearer" = [])),
    request_body(content = ProfileForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Username taken"),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn update_profile(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let mut form = body
        .multipart(&["profile_image"], state.cfg.media.image_max_bytes)
        .await?;
    let username = form
        .text("username")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let upload = form
        .files
        .remove("profile_image")
        .filter(|u| !u.data.is_empty());
    if username.is_none() && upload.is_none() {
        return Err(ApiError::validation(
            "username or profile_image: one is required",
        ));
    }
    if let Some(name) = &username {
        validate::username(name).map_err(ApiError::Validation)?;
    }
    let image = match upload {
        Some(upload) => Some(uploads::store_image(&state, upload.data).await?),
        None => None,
    };
    let updated =
        users::update_profile(&state.db, me.id, username.as_deref(), image.as_deref()).await;
    match updated {
        Ok(replaced) => {
            state.users_changed(&[me.id]).await;
            if image.is_some() {
                uploads::delete_files(&state, replaced.as_slice()).await;
            }
            message(messages::PROFILE_UPDATED)
        }
        Err(e) => {
            uploads::delete_files(&state, image.as_slice()).await;
            Err(e.into())
        }
    }
}

/// A phone account proves itself with a code verified this recently.
const DELETE_VERIFIED_WITHIN_SEC: i64 = 600;

#[utoipa::path(delete, path = "/api/user/", tag = "user", operation_id = "delete_account",
    description = "Username accounts give their password; phone accounts verify an SMS code first \
        (within 10 minutes) and send `phone_verified: true`. Sessions end, the user leaves matching, \
        their profile, settings, broadcasts and media are removed and the username or phone is \
        free again; calls, ratings and messages others saw stay, shown as \"deleted user\".",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Wrong password, or no fresh verification"),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn delete_account(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: DeleteAccountRequest = body.json().await?;
    let user = users::by_id(&state.db, me.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let proven = match (
        &user.username,
        &user.phone_number,
        req.password,
        req.phone_verified,
    ) {
        (Some(_), _, Some(password), _) => {
            password::verify(&state.heavy, password, Some(user.password_hash.clone())).await?
        }
        (None, Some(phone), _, Some(true)) => {
            let fresh = sms::verified_within(&state, phone, DELETE_VERIFIED_WITHIN_SEC).await?;
            if fresh {
                sms::consume_verification(&state, phone).await?;
            }
            fresh
        }
        (Some(_), ..) => return Err(ApiError::validation("password: required")),
        _ => {
            return Err(ApiError::validation(
                "phone_verified: required (verify a code first)",
            ));
        }
    };
    if !proven {
        return Err(ApiError::Document {
            status: warp::http::StatusCode::FORBIDDEN,
            text: messages::WRONG_PASSWORD,
            fields: serde_json::json!({}),
        });
    }
    let media = users::delete(&state.db, me.id).await?;
    // after the commit: nothing below can undo the deletion, only finish it
    state.tokens.end_all(&state.redis, me.id).await?;
    matching::leave_matching(&state, me.id).await?;
    uploads::delete_files(&state, &media).await;
    message(messages::ACCOUNT_DELETED)
}
