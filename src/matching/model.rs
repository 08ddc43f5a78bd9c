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
}

impl Settings {
    pub fn default_for(min_age: i32, region: &str) -> Self {
        Settings {
            preferred_gender: Preferred::All,
            age_range: [min_age, MAX_AGE],
            radius_km: None,
            location: None,
            region: region.to_owned(),
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
