//! `GET/PUT /api/user/profile/` of the matching document.

use bytes::Bytes;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::store as users;
use crate::auth::account::{MessageResponse, USERNAME_TAKEN};
use crate::auth::{AuthUser, validate};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::http::body::{Body, body};
use crate::http::{auth, detached, ok, with_state};
use crate::media::{self, PROFILE_DIR, images};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let path = warp::path!("api" / "user" / "profile");
    let get = path
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth(state.clone()))
        .then(|s, a| detached(get_profile(s, a)));
    let put = path
        .and(warp::put())
        .and(with_state(state.clone()))
        .and(auth(state))
        .and(body())
        .then(|s, a, b| detached(update_profile(s, a, b)));
    get.or(put).unify().boxed()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileResponse {
    id: i64,
    username: String,
    nickname: String,
    phone_number: Option<String>,
    age: Option<i32>,
    gender: Option<String>,
    /// URL of the profile image, or null.
    profile_image: Option<String>,
    gems: i64,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// Describes the multipart form for OpenAPI; the handler reads the parts itself.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct ProfileForm {
    /// A new username (same rules as signup).
    username: Option<String>,
    /// A new JPEG/PNG/WebP image, at most 5 MB.
    #[schema(value_type = Option<String>, format = Binary)]
    profile_image: Option<Vec<u8>>,
}

#[utoipa::path(get, path = "/api/user/profile/", tag = "user",
    security(("bearer" = [])),
    responses((status = 200, body = ProfileResponse), (status = 401, body = crate::error::ErrorBody)))]
async fn get_profile(state: AppState, auth: ApiResult<AuthUser>) -> ApiResult<Response> {
    let me = auth?;
    let user = users::by_id(&state.db, me.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    ok(&ProfileResponse {
        id: user.id,
        username: user.display_username(),
        nickname: user.display_nickname(),
        phone_number: user.phone_number.clone(),
        age: user.age,
        gender: user.gender.clone(),
        profile_image: user.profile_image.as_deref().map(|k| media::url(&state, k)),
        gems: user.gems,
        created_at: user.created_at,
    })
}

#[utoipa::path(put, path = "/api/user/profile/", tag = "user",
    security(("bearer" = [])),
    request_body(content = ProfileForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Username taken"),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
async fn update_profile(
    state: AppState,
    auth: ApiResult<AuthUser>,
    body: Body,
) -> ApiResult<Response> {
    let me = auth?;
    let mut form = body
        .multipart(&["profile_image"], images::MAX_IMAGE_BYTES)
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
        Some(upload) => Some(store_image(&state, upload.data).await?),
        None => None,
    };
    let updated =
        users::update_profile(&state.db, me.id, username.as_deref(), image.as_deref()).await;
    match updated {
        Ok(replaced) => {
            if let Some(old) = replaced.filter(|_| image.is_some()) {
                delete_image(&state, &old).await;
            }
            ok(&MessageResponse {
                message: "프로필이 수정되었습니다.",
            })
        }
        Err(e) => {
            if let Some(key) = &image {
                delete_image(&state, key).await;
            }
            Err(if is_unique_violation(&e, users::USERNAME_TAKEN) {
                ApiError::Conflict(USERNAME_TAKEN)
            } else {
                e.into()
            })
        }
    }
}

/// Cleans an uploaded image and stores it; returns its storage key.
pub async fn store_image(state: &AppState, upload: Bytes) -> ApiResult<String> {
    let image = images::clean(&state.heavy, upload).await?;
    let key = format!(
        "{PROFILE_DIR}/{}.{}",
        crate::auth::tokens::random_id(),
        image.extension
    );
    state
        .storage
        .put(&key, image.data)
        .await
        .map_err(|e| ApiError::Internal(format!("media write: {e}")))?;
    Ok(key)
}

/// Removes a stored image that nothing refers to any more.
pub async fn delete_image(state: &AppState, key: &str) {
    if let Err(e) = state.storage.delete(key).await {
        tracing::warn!(%key, error = %e, "could not delete replaced media");
    }
}
