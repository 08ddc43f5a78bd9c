//! SQL on the `users` table.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::model::UserSummary;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub nickname: Option<String>,
    pub password_hash: String,
    pub age: Option<i32>,
    pub gender: Option<String>,
    pub profile_image: Option<String>,
    pub gems: i64,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Where a document asks for `nickname` (users::model says which name).
    pub shown_nickname: String,
    /// Where a document asks for `username`.
    pub shown_username: String,
}

/// The columns of `User`, as a literal so that queries stay static strings.
macro_rules! user_columns {
    () => {
        "id, username, phone_number, nickname, password_hash, age, gender, \
         profile_image, gems, created_at, last_login_at, shown_nickname, shown_username"
    };
}

pub struct NewUser<'a> {
    pub username: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    pub nickname: Option<&'a str>,
    pub password_hash: &'a str,
    pub age: Option<i32>,
    pub gender: Option<&'a str>,
    pub profile_image: Option<&'a str>,
}

pub async fn insert(db: &PgPool, new: &NewUser<'_>) -> Result<User, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO users (username, phone_number, nickname, password_hash, age, gender, profile_image)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        user_columns!()
    ))
    .bind(new.username)
    .bind(new.phone_number)
    .bind(new.nickname)
    .bind(new.password_hash)
    .bind(new.age)
    .bind(new.gender)
    .bind(new.profile_image)
    .fetch_one(db)
    .await
}

pub async fn by_id(db: &PgPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn by_username(db: &PgPool, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE lower(username) = lower($1)"
    ))
    .bind(username)
    .fetch_optional(db)
    .await
}

pub async fn by_phone(db: &PgPool, phone: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE phone_number = $1"
    ))
    .bind(phone)
    .fetch_optional(db)
    .await
}

/// Records a successful login and returns its time.
pub async fn touch_login(db: &PgPool, id: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE users SET last_login_at = now() WHERE id = $1 RETURNING last_login_at",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// Changes the username and/or profile image; returns the replaced image key.
pub async fn update_profile(
    db: &PgPool,
    id: i64,
    username: Option<&str>,
    profile_image: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE users AS u SET
             username = COALESCE($2, u.username),
             profile_image = COALESCE($3, u.profile_image),
             updated_at = now()
         FROM (SELECT profile_image FROM users WHERE id = $1 FOR UPDATE) AS old
         WHERE u.id = $1
         RETURNING old.profile_image",
    )
    .bind(id)
    .bind(username)
    .bind(profile_image)
    .fetch_one(db)
    .await
}

/// How others see a user next to what they posted.
pub async fn summary(db: &PgPool, id: i64) -> Result<UserSummary, sqlx::Error> {
    sqlx::query_as("SELECT id, shown_nickname AS nickname, gender FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Deletes an account in one transaction: the row stays (what others saw,
/// calls, ratings and messages, is shown as "deleted user") without name,
/// phone, password, profile or settings, so the username and phone are free
/// again; the user's broadcasts end. Returns the media keys to remove once
/// it committed (profile image, broadcast voices).
pub async fn delete(db: &PgPool, id: i64) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let profile: Option<Option<String>> = sqlx::query_scalar(
        "WITH old AS (SELECT profile_image FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE)
         UPDATE users SET username = NULL, phone_number = NULL, nickname = NULL,
                password_hash = '!', age = NULL, gender = NULL, profile_image = NULL,
                role = 'user', deleted_at = now(), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL
         RETURNING (SELECT profile_image FROM old)",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(profile) = profile else {
        return Ok(Vec::new());
    };
    sqlx::query("DELETE FROM match_settings WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let voices: Vec<String> = sqlx::query_scalar(
        "WITH mine AS (SELECT id, voice_key FROM broadcasts WHERE user_id = $1 FOR UPDATE)
         UPDATE broadcasts b SET active = false, voice_key = NULL, updated_at = now()
         FROM mine WHERE b.id = mine.id AND mine.voice_key IS NOT NULL
         RETURNING mine.voice_key",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(profile.into_iter().chain(voices).collect())
}
