//! HTTP handlers of matching: they read the request, call `engine`, charge
//! gems, and wait on the hub for what other users do.

use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use warp::http::StatusCode;
use warp::reply::Response;

use super::engine::{self, DecideOutcome, PairOutcome, Ticket};
use super::model::{
    Decision, DecisionRequest, Location, MatchFound, MatchedUser, Preferred, RandomQuery, Settings,
    SettingsRequest, StatusResponse,
};
use super::store::{self, Candidate};
use crate::auth::AuthUser;
use crate::auth::account::MessageResponse;
use crate::auth::validate::Gender;
use crate::error::{ApiError, ApiResult};
use crate::gems::ledger::{self, ChargeError};
use crate::http::body::Body;
use crate::http::{json_response, json_text, ok};
use crate::media;
use crate::realtime::hub;
use crate::state::AppState;

fn shard_index(state: &AppState, region: &str) -> usize {
    let shards = &state.cfg.matching.shards;
    shards.iter().position(|s| s == region).unwrap_or(0)
}

#[utoipa::path(get, path = "/api/match/settings/", tag = "matching",
    security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 401, body = crate::error::ErrorBody)))]
pub async fn get_settings(state: AppState, auth: ApiResult<AuthUser>) -> ApiResult<Response> {
    let me = auth?;
    let cfg = &state.cfg;
    ok(&store::settings(&state.db, me.id, cfg.min_age, &cfg.matching.shards[0]).await?)
}

#[utoipa::path(post, path = "/api/match/settings/", tag = "matching",
    security(("bearer" = [])),
    request_body = SettingsRequest,
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn save_settings(
    state: AppState,
    auth: ApiResult<AuthUser>,
    body: Body,
) -> ApiResult<Response> {
    let me = auth?;
    let req: SettingsRequest = body.json().await?;
    let cfg = &state.cfg;
    let current = store::settings(&state.db, me.id, cfg.min_age, &cfg.matching.shards[0]).await?;
    let updated = current
        .clone()
        .apply(req, cfg.min_age, &cfg.matching.shards)?;
    store::save_settings(&state.db, me.id, &updated).await?;
    if updated.region != current.region {
        // a user waits in one shard at a time
        engine::cancel(
            &state.redis,
            &cfg.matching,
            me.id,
            shard_index(&state, &current.region),
        )
        .await?;
    }
    ok(&MessageResponse {
        message: "매칭 조건이 저장되었습니다.",
    })
}

/// The user's entry in the pool, from their profile and settings.
fn ticket(state: &AppState, user: &Candidate, here: Option<Location>) -> ApiResult<Ticket> {
    let cfg = &state.cfg;
    let gender = user.gender.as_deref().and_then(Gender::parse);
    let (Some(age), Some(gender)) = (user.age, gender) else {
        return Err(ApiError::validation(
            "age, gender: both are needed for matching",
        ));
    };
    let settings = user.settings(cfg.min_age, &cfg.matching.shards[0]);
    let location = here.or(settings.location);
    let card = MatchedUser {
        id: user.id,
        username: user
            .username
            .clone()
            .or_else(|| user.nickname.clone())
            .unwrap_or_default(),
        age,
        gender,
        profile_image: user.profile_image.as_deref().map(|k| media::url(state, k)),
        rating: user.rating,
    };
    Ok(Ticket {
        uid: user.id,
        shard: shard_index(state, &settings.region),
        gender,
        age,
        preferred: settings.preferred_gender,
        age_min: settings.age_range[0],
        age_max: settings.age_range[1],
        radius_km: settings.radius_km.unwrap_or(0),
        location,
        cost: if settings.preferred_gender == Preferred::All {
            0
        } else {
            cfg.matching.filter_gem_cost
        },
        balance: user.gems,
        card: serde_json::to_string(&card).map_err(|e| ApiError::Internal(e.to_string()))?,
        excluded: user.excluded.clone(),
    })
}

fn found(match_id: i64, partner_card: String, remaining_ms: i64) -> ApiResult<Response> {
    let card = RawValue::from_string(partner_card)
        .map_err(|e| ApiError::Internal(format!("card: {e}")))?;
    ok(&MatchFound {
        kind: "match_found",
        match_id,
        show_time_sec: (remaining_ms.max(0) + 999) / 1000,
        matched_user: &card,
    })
}

/// Why a pair could not be paid for.
enum Unpaid {
    Caller { balance: i64 },
    Partner,
    Failed(ApiError),
}

/// Charges the gems a pair owes, all or none; undoes the pair when that fails,
/// putting back in line whoever could pay.
async fn pay(
    state: &AppState,
    match_id: i64,
    me: (i64, i64),
    partner: (i64, i64),
) -> Result<(), Unpaid> {
    let payers: Vec<(i64, i64)> = [me, partner]
        .into_iter()
        .filter(|(_, cost)| *cost > 0)
        .collect();
    if payers.is_empty() {
        return Ok(());
    }
    let short = match ledger::charge_for_match(&state.db, match_id, &payers).await {
        Ok(()) => return Ok(()),
        Err(ChargeError::Insufficient(uid)) => Some(uid),
        Err(ChargeError::Db(e)) => {
            tracing::warn!(match_id, error = %e, "charging a match failed; undoing it");
            None
        }
    };
    let put_back: Vec<i64> = [me.0, partner.0]
        .into_iter()
        .filter(|u| Some(*u) != short)
        .collect();
    let cfg = &state.cfg.matching;
    engine::unpair(&state.redis, cfg, match_id, &put_back, engine::now_ms())
        .await
        .map_err(Unpaid::Failed)?;
    match short {
        Some(uid) if uid == me.0 => {
            let balance = ledger::balance(&state.db, uid)
                .await
                .map_err(|e| Unpaid::Failed(e.into()))?;
            Err(Unpaid::Caller {
                balance: balance.unwrap_or(0),
            })
        }
        Some(_) => Err(Unpaid::Partner),
        None => Err(Unpaid::Failed(ApiError::Unavailable(
            "gem charge failed".into(),
        ))),
    }
}

/// Tells both users of a new match who their partner is (`match_found`).
async fn announce(
    state: &AppState,
    match_id: i64,
    show_time_sec: i64,
    a: (i64, &str),
    b: (i64, &str),
) -> ApiResult<()> {
    for ((to, _), (_, partner_card)) in [(a, b), (b, a)] {
        let card = RawValue::from_string(partner_card.to_owned())
            .map_err(|e| ApiError::Internal(format!("card: {e}")))?;
        let event = MatchFound {
            kind: "match_found",
            match_id,
            show_time_sec,
            matched_user: &card,
        };
        let json = serde_json::to_string(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
        hub::publish(&state.redis, &[to], &json).await?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/match/random/", tag = "matching",
    security(("bearer" = [])),
    params(
        ("wait" = Option<u64>, Query, description = "Seconds to wait for a partner (default 25, max 60)"),
        ("lat" = Option<f64>, Query, description = "Where the user is now (with lng)"),
        ("lng" = Option<f64>, Query)),
    responses(
        (status = 200, body = MatchFound, description = "A partner: decide within show_time_sec"),
        (status = 202, body = StatusResponse, description = "Nobody yet; still in the pool"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 402, body = crate::error::NotEnoughGemsBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn random(
    state: AppState,
    auth: ApiResult<AuthUser>,
    query: ApiResult<RandomQuery>,
) -> ApiResult<Response> {
    let me = auth?;
    let query = query?;
    let cfg = &state.cfg.matching;
    let wait = query.wait.unwrap_or(cfg.wait_default_sec);
    if wait > cfg.wait_max_sec {
        return Err(ApiError::validation(format!(
            "wait: must be 0 to {}",
            cfg.wait_max_sec
        )));
    }
    let here = match (query.lat, query.lng) {
        (Some(lat), Some(lng)) => Some(Location { lat, lng }.validate()?),
        (None, None) => None,
        _ => return Err(ApiError::validation("lat, lng: give both or neither")),
    };
    let user = store::candidate(&state.db, me.id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let ticket = ticket(&state, &user, here)?;
    // listen before entering the pool: a partner may arrive at once
    let mut events = state.hub.subscribe(me.id);
    loop {
        let match_id = state.match_ids.next(&state.db, ticket.shard).await?;
        let now = engine::now_ms();
        match engine::pair(&state.redis, cfg, &ticket, match_id, now).await? {
            PairOutcome::Waiting => break,
            PairOutcome::NotEnoughGems => {
                return Err(ApiError::NotEnoughGems {
                    required: ticket.cost,
                    balance: ticket.balance,
                });
            }
            PairOutcome::Pending {
                match_id,
                partner_card,
                deadline_ms,
            } => return found(match_id, partner_card, deadline_ms - now),
            PairOutcome::Paired {
                match_id,
                partner_card,
                deadline_ms,
                partner,
                partner_cost,
                partner_since_ms,
            } => match pay(
                &state,
                match_id,
                (me.id, ticket.cost),
                (partner, partner_cost),
            )
            .await
            {
                Ok(()) => {
                    if ticket.cost > 0 || partner_cost > 0 {
                        // pairs that owe gems are announced once paid for (the script did the rest)
                        let show = (deadline_ms - now + 999) / 1000;
                        let partner_side = (partner, partner_card.as_str());
                        let my_side = (me.id, ticket.card.as_str());
                        announce(&state, match_id, show, partner_side, my_side).await?;
                    }
                    state.metrics.matches.inc();
                    state
                        .metrics
                        .match_wait
                        .observe((now - partner_since_ms).max(0) as f64 / 1e3);
                    return found(match_id, partner_card, deadline_ms - now);
                }
                Err(Unpaid::Caller { balance }) => {
                    return Err(ApiError::NotEnoughGems {
                        required: ticket.cost,
                        balance,
                    });
                }
                // the partner could not pay and left; the caller, back in line, searches again
                Err(Unpaid::Partner) => continue,
                Err(Unpaid::Failed(e)) => return Err(e),
            },
        }
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    match events.wait_for(deadline, |e| e.kind == "match_found").await {
        Some(event) => Ok(json_text(StatusCode::OK, event.json.to_string())),
        None => Ok(json_response(
            StatusCode::ACCEPTED,
            &StatusResponse { status: "waiting" },
        )),
    }
}

#[utoipa::path(post, path = "/api/match/decision/", tag = "matching",
    security(("bearer" = [])),
    request_body = DecisionRequest,
    responses(
        (status = 200, body = StatusResponse, description = "`matched` when both accepted, else `next`"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not one of the match's users"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn decision(
    state: AppState,
    auth: ApiResult<AuthUser>,
    body: Body,
) -> ApiResult<Response> {
    let me = auth?;
    let req: DecisionRequest = body.json().await?;
    let cfg = &state.cfg.matching;
    let accept = matches!(req.decision, Decision::Accept);
    let mut events = state.hub.subscribe(me.id);
    let now = engine::now_ms();
    let status = match engine::decide(&state.redis, cfg, me.id, req.match_id, accept, now).await? {
        DecideOutcome::Missing => return Err(ApiError::NotFound),
        DecideOutcome::Forbidden => return Err(ApiError::Forbidden),
        DecideOutcome::Matched => "matched",
        DecideOutcome::Next => "next",
        DecideOutcome::Waiting { deadline_ms } => {
            let left = Duration::from_millis((deadline_ms - now).max(0) as u64);
            let heard = events
                .wait_for(Instant::now() + left, |e| {
                    e.kind == "match_decided" && e.match_id == Some(req.match_id)
                })
                .await;
            match heard.as_ref().and_then(|e| e.status.as_deref()) {
                Some("matched") => "matched",
                Some(_) => "next",
                // the window closed without the partner: undecided counts as reject
                None => {
                    let late = engine::now_ms().max(deadline_ms);
                    match engine::decide(&state.redis, cfg, me.id, req.match_id, true, late).await?
                    {
                        DecideOutcome::Matched => "matched",
                        _ => "next",
                    }
                }
            }
        }
    };
    ok(&StatusResponse { status })
}

#[utoipa::path(post, path = "/api/match/cancel/", tag = "matching",
    security(("bearer" = [])),
    responses((status = 200, body = MessageResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn cancel(state: AppState, auth: ApiResult<AuthUser>) -> ApiResult<Response> {
    let me = auth?;
    let cfg = &state.cfg.matching;
    for shard in 0..cfg.shards.len() {
        engine::cancel(&state.redis, cfg, me.id, shard).await?;
    }
    ok(&MessageResponse {
        message: "매칭 상태가 해제되었습니다.",
    })
}
