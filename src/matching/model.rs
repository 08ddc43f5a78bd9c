//! Shapes of the matching document, and the rules on settings.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::users::model::{Gender, MAX_AGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preferred {
    Male,
    Female,
    All,
}

impl Preferred {
    pub fn as_str(self) -> &'static str {
        match self {
            Preferred::Male => "male",
            Preferred::Female => "female",
            Preferred::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "male" => Some(Preferred::Male),
            "female" => Some(Preferred::Female),
            "all" => Some(Preferred::All),
            _ => None,
        }
    }
}

/// Redis GEO covers latitudes up to ±85.05112878.
const MAX_LAT: f64 = 85.05112878;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
}

impl Location {
    pub fn validate(self) -> ApiResult<Self> {
        if !(-MAX_LAT..=MAX_LAT).contains(&self.lat) || !(-180.0..=180.0).contains(&self.lng) {
            return Err(ApiError::validation(
                "location: lat must be within ±85.05 and lng within ±180",
            ));
        }
        Ok(self)
    }
}

/// `POST /api/match/settings/`. Fields left out keep their current value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SettingsRequest {
    pub preferred_gender: Option<Preferred>,
    /// `[min, max]` within `MIN_AGE`..100.
    pub age_range: Option<Vec<i32>>,
    /// 1–20000; null or 0 for no limit.
    #[serde(default, deserialize_with = "double_option")]
    pub radius_km: Option<Option<i32>>,
    pub location: Option<Location>,
    /// One of `MATCH_SHARDS`; the first when unset.
    pub region: Option<String>,
    /// ISO 639-1 codes, at most 5; empty: any language.
    pub languages: Option<Vec<String>>,
    /// Up to 10 tags of 1–20 characters.
    pub interests: Option<Vec<String>>,
    /// Widen the age range and radius while waiting (`RELAX_*`).
    pub relax: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i32>>, D::Error> {
    Option::<i32>::deserialize(d).map(Some)
}

/// Stored preferences; users without any match with these defaults.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub preferred_gender: Preferred,
    pub age_range: [i32; 2],
    pub radius_km: Option<i32>,
    pub location: Option<Location>,
    pub region: String,
    pub languages: Vec<String>,
    pub interests: Vec<String>,
    pub relax: bool,
}

/// The ISO 639-1 language codes.
const LANGUAGES: &str = "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch \
    co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha \
    he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks \
    ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no \
    nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq \
    sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi \
    yo za zh zu";
const MAX_LANGUAGES: usize = 5;
const MAX_INTERESTS: usize = 10;
const MAX_INTEREST_CHARS: usize = 20;

/// Languages as stored: lowercase codes, each once, in the order given.
fn languages(given: Vec<String>) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for code in given {
        let code = code.to_ascii_lowercase();
        if code.len() != 2 || !LANGUAGES.split_whitespace().any(|c| c == code) {
            return Err(ApiError::validation(
                "languages: must be ISO 639-1 codes such as \"ko\" or \"en\"",
            ));
        }
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if out.len() > MAX_LANGUAGES {
        return Err(ApiError::validation(format!(
            "languages: at most {MAX_LANGUAGES}"
        )));
    }
    Ok(out)
}

/// Interests as stored: trimmed, lowercase, each once, in the order given.
fn interests(given: Vec<String>) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for tag in given {
        let tag = tag.trim().to_lowercase();
        let chars = tag.chars().count();
        if chars == 0 || chars > MAX_INTEREST_CHARS || tag.chars().any(char::is_control) {
            return Err(ApiError::validation(format!(
                "interests: each must be 1 to {MAX_INTEREST_CHARS} characters"
            )));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_INTERESTS {
        return Err(ApiError::validation(format!(
            "interests: at most {MAX_INTERESTS}"
        )));
    }
    Ok(out)
}

impl Settings {
    pub fn default_for(min_age: i32, region: &str) -> Self {
        Settings {
            preferred_gender: Preferred::All,
            age_range: [min_age, MAX_AGE],
            radius_km: None,
            location: None,
            region: region.to_owned(),
            languages: Vec::new(),
            interests: Vec::new(),
            relax: false,
        }
    }

    /// Applies a request on top of `self`, checking every rule of SPEC.md.
    pub fn apply(
        mut self,
        req: SettingsRequest,
        min_age: i32,
        shards: &[String],
    ) -> ApiResult<Self> {
        if let Some(p) = req.preferred_gender {
            self.preferred_gender = p;
        }
        if let Some(range) = req.age_range {
            let [min, max] = range[..] else {
                return Err(ApiError::validation("age_range: must be [min, max]"));
            };
            if min < min_age || max > MAX_AGE || min > max {
                return Err(ApiError::validation(format!(
                    "age_range: must be [min, max] with {min_age} <= min <= max <= {MAX_AGE}"
                )));
            }
            self.age_range = [min, max];
        }
        if let Some(radius) = req.radius_km {
            self.radius_km = match radius {
                None | Some(0) => None,
                Some(r) if (1..=20000).contains(&r) => Some(r),
                Some(_) => {
                    return Err(ApiError::validation(
                        "radius_km: must be 1 to 20000, or null/0",
                    ));
                }
            };
        }
        if let Some(location) = req.location {
            self.location = Some(location.validate()?);
        }
        if let Some(region) = req.region {
            if !shards.contains(&region) {
                return Err(ApiError::validation(format!(
                    "region: must be one of {}",
                    shards.join(", ")
                )));
            }
            self.region = region;
        }
        if let Some(given) = req.languages {
            self.languages = languages(given)?;
        }
        if let Some(given) = req.interests {
            self.interests = interests(given)?;
        }
        if let Some(relax) = req.relax {
            self.relax = relax;
        }
        if self.radius_km.is_some() && self.location.is_none() {
            return Err(ApiError::validation("radius_km: a radius needs a location"));
        }
        Ok(self)
    }
}

/// `matched_user` of the document, plus the user's id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatchedUser {
    pub id: i64,
    pub username: String,
    pub age: i32,
    pub gender: Gender,
    pub profile_image: Option<String>,
    /// Average of the ratings received; 0.0 when none.
    pub rating: f64,
    pub languages: Vec<String>,
    pub interests: Vec<String>,
    /// The interests both users named (added by the pairing, for each pair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_interests: Option<Vec<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RandomQuery {
    /// Seconds to wait for a partner (default 25, max 60); 0 answers at once.
    pub wait: Option<u64>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accept,
    Reject,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecisionRequest {
    pub match_id: i64,
    pub decision: Decision,
}

/// `GET /api/match/status/`, and the 202 of `GET /api/match/random/`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueStatus {
    /// `waiting` (in the pool), `pending` (a match awaits decisions) or `idle`.
    pub status: &'static str,
    /// Seconds in the pool so far (0 unless waiting).
    pub waited_sec: i64,
    /// Users now waiting in the caller's shard.
    pub waiting: i64,
    /// The median wait of the shard's pairs of the last 10 minutes; null when none.
    pub estimated_wait_sec: Option<i64>,
    /// The caller's age range now (wider than saved once relaxed).
    pub age_range: [i32; 2],
    /// The caller's radius now; null: no limit.
    pub radius_km: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusResponse {
    /// `matched`, `next` (decision) or `waiting` (random, 202).
    pub status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: serde_json::Value) -> SettingsRequest {
        serde_json::from_value(json).unwrap()
    }

    fn shards() -> Vec<String> {
        vec!["global".into(), "kr".into()]
    }

    #[test]
    fn age_range_edges() {
        let base = || Settings::default_for(18, "global");
        let ok = base().apply(
            req(serde_json::json!({"age_range": [18, 100]})),
            18,
            &shards(),
        );
        assert_eq!(ok.unwrap().age_range, [18, 100]);
        for bad in [[17, 30], [20, 101], [40, 30]] {
            assert!(
                base()
                    .apply(req(serde_json::json!({"age_range": bad})), 18, &shards())
                    .is_err()
            );
        }
        assert!(
            base()
                .apply(req(serde_json::json!({"age_range": [20]})), 18, &shards())
                .is_err()
        );
    }

    #[test]
    fn radius_needs_a_location_and_zero_or_null_clear_it() {
        let base = Settings::default_for(18, "global");
        assert!(
            base.clone()
                .apply(req(serde_json::json!({"radius_km": 5})), 18, &shards())
                .is_err()
        );
        let with = base
            .apply(
                req(serde_json::json!({"radius_km": 20000, "location": {"lat": 37.5, "lng": 127.0}})),
                18,
                &shards(),
            )
            .unwrap();
        assert_eq!(with.radius_km, Some(20000));
        let cleared =
            with.clone()
                .apply(req(serde_json::json!({"radius_km": null})), 18, &shards());
        assert_eq!(cleared.unwrap().radius_km, None);
        let kept = with
            .clone()
            .apply(req(serde_json::json!({})), 18, &shards())
            .unwrap();
        assert_eq!(kept.radius_km, Some(20000));
        assert!(
            with.apply(req(serde_json::json!({"radius_km": 20001})), 18, &shards())
                .is_err()
        );
    }
}
