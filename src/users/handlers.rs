//! `GET/PUT /api/user/profile/` of the matching document.

use warp::reply::Response;

use super::model::{ProfileForm, ProfileResponse};
use super::store as users;
use crate::auth::validate;
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, message, ok};
use crate::media::{self, uploads};
use crate::messages;
use crate::session::AuthUser;
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
