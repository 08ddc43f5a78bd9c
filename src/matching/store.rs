//! SQL of matching: settings, and everything one pairing needs in one query.

use sqlx::PgPool;

use super::model::{Location, Preferred, Settings};

#[derive(sqlx::FromRow)]
struct SettingsRow {
    preferred_gender: String,
    age_min: i32,
    age_max: i32,
    radius_km: Option<i32>,
    lat: Option<f64>,
    lng: Option<f64>,
    region: Option<String>,
    languages: Vec<String>,
    interests: Vec<String>,
    relax: bool,
}

impl SettingsRow {
    fn into_settings(self, default_region: &str) -> Settings {
        Settings {
            preferred_gender: Preferred::parse(&self.preferred_gender).unwrap_or(Preferred::All),
            age_range: [self.age_min, self.age_max],
            radius_km: self.radius_km,
            location: self
                .lat
                .zip(self.lng)
                .map(|(lat, lng)| Location { lat, lng }),
            region: self.region.unwrap_or_else(|| default_region.to_owned()),
            languages: self.languages,
            interests: self.interests,
            relax: self.relax,
        }
    }
}

pub async fn settings(
    db: &PgPool,
    uid: i64,
    min_age: i32,
    default_region: &str,
) -> Result<Settings, sqlx::Error> {
    let row: Option<SettingsRow> = sqlx::query_as(
        "SELECT preferred_gender, age_min, age_max, radius_km, lat, lng, region,
                languages, interests, relax
         FROM match_settings WHERE user_id = $1",
    )
    .bind(uid)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        Some(row) => row.into_settings(default_region),
        None => Settings::default_for(min_age, default_region),
    })
}

pub async fn save_settings(db: &PgPool, uid: i64, s: &Settings) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO match_settings (user_id, preferred_gender, age_min, age_max, radius_km, lat, lng,
                                     region, languages, interests, relax)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (user_id) DO UPDATE SET
             preferred_gender = EXCLUDED.preferred_gender, age_min = EXCLUDED.age_min,
             age_max = EXCLUDED.age_max, radius_km = EXCLUDED.radius_km, lat = EXCLUDED.lat,
             lng = EXCLUDED.lng, region = EXCLUDED.region, languages = EXCLUDED.languages,
             interests = EXCLUDED.interests, relax = EXCLUDED.relax, updated_at = now()",
    )
    .bind(uid)
    .bind(s.preferred_gender.as_str())
    .bind(s.age_range[0])
    .bind(s.age_range[1])
    .bind(s.radius_km)
    .bind(s.location.map(|l| l.lat))
    .bind(s.location.map(|l| l.lng))
    .bind(&s.region)
    .bind(&s.languages)
    .bind(&s.interests)
    .bind(s.relax)
    .execute(db)
    .await?;
    Ok(())
}

/// A user as the pairing needs them: profile, settings, balance, blocks either way.
#[derive(sqlx::FromRow)]
pub struct Candidate {
    pub id: i64,
    /// The name the matching document shows (`users::model`).
    pub shown_username: String,
    pub age: Option<i32>,
    pub gender: Option<String>,
    pub profile_image: Option<String>,
    pub gems: i64,
    pub rating: f64,
    pub excluded: Vec<i64>,
    /// Suspended now, until `suspended_until` (None: until lifted).
    pub suspended: bool,
    pub suspended_until: Option<chrono::DateTime<chrono::Utc>>,
    preferred_gender: Option<String>,
    age_min: Option<i32>,
    age_max: Option<i32>,
    radius_km: Option<i32>,
    lat: Option<f64>,
    lng: Option<f64>,
    region: Option<String>,
    languages: Option<Vec<String>>,
    interests: Option<Vec<String>>,
    relax: Option<bool>,
}

impl Candidate {
    pub fn settings(&self, min_age: i32, default_region: &str) -> Settings {
        match (&self.preferred_gender, self.age_min, self.age_max) {
            (Some(pg), Some(age_min), Some(age_max)) => SettingsRow {
                preferred_gender: pg.clone(),
                age_min,
                age_max,
                radius_km: self.radius_km,
                lat: self.lat,
                lng: self.lng,
                region: self.region.clone(),
                languages: self.languages.clone().unwrap_or_default(),
                interests: self.interests.clone().unwrap_or_default(),
                relax: self.relax.unwrap_or(false),
            }
            .into_settings(default_region),
            _ => Settings::default_for(min_age, default_region),
        }
    }
}

pub async fn candidate(db: &PgPool, uid: i64) -> Result<Option<Candidate>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.shown_username, u.age, u.gender, u.profile_image, u.gems,
                COALESCE((SELECT round(avg(r.rating), 2)::float8 FROM ratings r WHERE r.rated_id = u.id), 0)
                    AS rating,
                s.preferred_gender, s.age_min, s.age_max, s.radius_km, s.lat, s.lng, s.region,
                s.languages, s.interests, s.relax,
                ARRAY(SELECT x FROM blocked_with(u.id) AS x) AS excluded,
                (u.suspended_at IS NOT NULL
                 AND (u.suspended_until IS NULL OR u.suspended_until > now())) AS suspended,
                u.suspended_until
         FROM users u LEFT JOIN match_settings s ON s.user_id = u.id
         WHERE u.id = $1 AND u.deleted_at IS NULL",
    )
    .bind(uid)
    .fetch_optional(db)
    .await
}
