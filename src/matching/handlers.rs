//! The matching endpoints: settings, random (a long poll; the pairing itself
//! is `service::search`), decisions (which wait for the partner), cancel.

use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use warp::http::StatusCode;
use warp::reply::Response;

use super::engine::{self, DecideOutcome};
use super::model::{
    Decision, DecisionRequest, Location, QueueStatus, RandomQuery, Settings, SettingsRequest,
    StatusResponse,
};
use super::service::{self, Search, shard_index};
use super::store;
use crate::error::{ApiError, ApiResult};
use crate::http::body::Body;
use crate::http::{MessageResponse, json_response, json_text, message, ok};
use crate::messages;
use crate::realtime::protocol::{Event, MATCH_DECIDED, MATCH_FOUND, MatchFound, POOL_LEFT};
use crate::session::AuthUser;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/match/settings/", tag = "matching", operation_id = "get_match_settings",
    security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 401, body = crate::error::ErrorBody)))]
pub async fn get_settings(state: AppState, me: AuthUser) -> ApiResult<Response> {
    let cfg = &state.cfg;
    ok(&store::settings(&state.db, me.id, cfg.min_age, &cfg.matching.shards[0]).await?)
}

#[utoipa::path(post, path = "/api/match/settings/", tag = "matching", operation_id = "save_match_settings",
    security(("bearer" = [])),
    request_body = SettingsRequest,
    responses(
        (status = 200, body = MessageResponse),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn save_settings(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: SettingsRequest = body.json().await?;
    let cfg = &state.cfg;
    let current = store::settings(&state.db, me.id, cfg.min_age, &cfg.matching.shards[0]).await?;
    let updated = current
        .clone()
        .apply(req, cfg.min_age, &cfg.matching.shards)?;
    store::save_settings(&state.db, me.id, &updated).await?;
    state.users_changed(&[me.id]).await;
    // a waiting user's ticket holds the settings they had: out of the pool (of their
    // region as it was), and a long poll of theirs enters again with the new ones; an
    // undecided match stays in its shard, unless they leave it. Also when nothing
    // changed: a save retried after this step failed (Postgres holding the new
    // settings, the pool the old ticket) must still take the old ticket out.
    let moved = updated.region != current.region;
    let shard = shard_index(&state, &current.region);
    engine::requeue(&state.redis, me.id, shard, moved).await?;
    message(messages::SETTINGS_SAVED)
}

fn found(match_id: i64, partner_card: String, remaining_ms: i64) -> ApiResult<Response> {
    let card = RawValue::from_string(partner_card)
        .map_err(|e| ApiError::Internal(format!("card: {e}")))?;
    ok(&Event::MatchFound(MatchFound {
        match_id,
        show_time_sec: (remaining_ms.max(0) + 999) / 1000,
        matched_user: &card,
    }))
}

#[utoipa::path(get, path = "/api/match/random/", tag = "matching", operation_id = "random_match",
    security(("bearer" = [])),
    params(
        ("wait" = Option<u64>, Query, description = "Seconds to wait for a partner (default 25, max 60)"),
        ("lat" = Option<f64>, Query, description = "Where the user is now (with lng)"),
        ("lng" = Option<f64>, Query)),
    responses(
        (status = 200, body = MatchFound, description = "A partner: decide within show_time_sec (`type`: `match_found`)"),
        (status = 202, body = QueueStatus, description = "Nobody yet; still in the pool"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 402, body = crate::error::NotEnoughGemsBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn random(
    state: AppState,
    me: AuthUser,
    query: ApiResult<RandomQuery>,
) -> ApiResult<Response> {
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
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut ticket = service::ticket(&state, me.id, here).await?;
    // listen before entering the pool: a partner may arrive at once
    let mut events = state.hub.subscribe(me.id).await?;
    // a caller answered at once (wait=0) gets the queue status from the pairing itself
    let with_status = wait == 0;
    loop {
        let search = service::search(state.clone(), ticket.clone(), with_status);
        let (queue, paying) = match tokio::spawn(search)
            .await
            .map_err(|e| ApiError::Internal(format!("match search task: {e}")))??
        {
            Search::Found {
                match_id,
                partner_card,
                remaining_ms,
            } => return found(match_id, partner_card, remaining_ms),
            Search::Waiting(queue) => (queue, None),
            Search::Charging(match_id) => (None, Some(match_id)),
        };
        // a match the user's own request was answered with (they paired someone) may
        // reach this poll late, after it was decided: only a match made for them while
        // they wait, or the one being paid for now; or their settings changed, and they
        // left the pool
        let wanted = |e: &crate::realtime::event::Event| {
            let fresh = !e.answered || (paying.is_some() && e.match_id == paying);
            (e.kind == MATCH_FOUND && fresh) || e.kind == POOL_LEFT
        };
        let heard = events.wait_for(deadline, wanted).await;
        match heard {
            Some(event) if event.kind == POOL_LEFT => {
                // in again with the new settings, read afresh (this node may not
                // have heard that they changed yet)
                state.tickets.remove(&me.id);
                ticket = Box::pin(service::ticket(&state, me.id, here)).await?;
            }
            Some(event) => return Ok(json_text(StatusCode::OK, event.json.to_string())),
            None => {
                // after a wait, the pool is asked again (the filters may have relaxed)
                let fresh = if wait == 0 { queue } else { None };
                // boxed: a rare path, kept out of the route's future (see `crate::redis`)
                let status = Box::pin(service::queue_status(&state, &ticket, fresh)).await?;
                return Ok(json_response(StatusCode::ACCEPTED, &status));
            }
        }
    }
}

#[utoipa::path(get, path = "/api/match/status/", tag = "matching", operation_id = "match_status",
    security(("bearer" = [])),
    responses(
        (status = 200, body = QueueStatus, description = "Where the caller stands in the pool"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody, description = "No age or gender yet")))]
pub async fn status(state: AppState, me: AuthUser) -> ApiResult<Response> {
    let ticket = service::ticket(&state, me.id, None).await?;
    ok(&service::queue_status(&state, &ticket, None).await?)
}

#[utoipa::path(post, path = "/api/match/decision/", tag = "matching", operation_id = "decide_match",
    security(("bearer" = [])),
    request_body = DecisionRequest,
    responses(
        (status = 200, body = StatusResponse, description = "`matched` when both accepted, else `next`"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not one of the match's users"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn decision(state: AppState, me: AuthUser, body: Body) -> ApiResult<Response> {
    let req: DecisionRequest = body.json().await?;
    // refuses a suspended user (the node's cached entry, as a random reads it)
    service::ticket(&state, me.id, None).await?;
    let cfg = &state.cfg.matching;
    let accept = matches!(req.decision, Decision::Accept);
    // an accept may wait for the partner's decision: listening before deciding, so
    // that it cannot be missed; a reject never waits
    let mut events = if accept {
        Some(state.hub.subscribe(me.id).await?)
    } else {
        None
    };
    let now = engine::now_ms();
    let status = match engine::decide(&state.redis, cfg, me.id, req.match_id, accept, now).await? {
        DecideOutcome::Missing => return Err(ApiError::NotFound),
        DecideOutcome::Forbidden => return Err(ApiError::Forbidden),
        DecideOutcome::Matched => "matched",
        DecideOutcome::Next => "next",
        DecideOutcome::Waiting { deadline_ms } => {
            let left = Duration::from_millis((deadline_ms - now).max(0) as u64);
            let Some(events) = events.as_mut() else {
                return Err(ApiError::Internal(
                    "a reject left its match undecided".into(),
                ));
            };
            let heard = events
                .wait_for(Instant::now() + left, |e| {
                    e.kind == MATCH_DECIDED && e.match_id == Some(req.match_id)
                })
                .await;
            match heard.as_ref().and_then(|e| e.status.as_deref()) {
                Some("matched") => "matched",
                Some(_) => "next",
                // the window closed without the partner: undecided counts as reject
                None => {
                    let late = engine::now_ms().max(deadline_ms);
                    // boxed: a rare path, kept out of the route's future (see `crate::redis`)
                    let again = engine::decide(&state.redis, cfg, me.id, req.match_id, true, late);
                    match Box::pin(again).await? {
                        DecideOutcome::Matched => "matched",
                        _ => "next",
                    }
                }
            }
        }
    };
    ok(&StatusResponse { status })
}

#[utoipa::path(post, path = "/api/match/cancel/", tag = "matching", operation_id = "cancel_matching",
    security(("bearer" = [])),
    responses((status = 200, body = MessageResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn cancel(state: AppState, me: AuthUser) -> ApiResult<Response> {
    let cfg = &state.cfg.matching;
    for shard in 0..cfg.shards.len() {
        engine::cancel(&state.redis, me.id, shard).await?;
    }
    message(messages::MATCHING_CANCELLED)
}
