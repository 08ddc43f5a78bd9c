//! The matching service: what one `GET /api/match/random/` does to the pool,
//! apart from waiting. Pairing and paying for a pair are one unit, run in a
//! task of its own (`random` spawns it), so that a client who hangs up cannot
//! leave a pair made but not charged. A pair that owes gems is announced only
//! once they are charged (`engine::confirm`); if it ends first (deadline,
//! cancel, a node or a Redis master lost), whatever was charged for it goes
//! back (`refund_unpaid`, run by every node's housekeeping).

use std::sync::Arc;

use super::engine::{self, PairOutcome, Queue, Standing, Ticket};
use super::model::{Location, MatchedUser, Preferred, QueueStatus};
use super::reach::Reach;
use super::store::{self, Candidate};
use crate::error::{ApiError, ApiResult};
use crate::gems::ledger::{self, ChargeError};
use crate::media;
use crate::realtime::protocol::{Event, MatchFound};
use crate::state::AppState;
use crate::users::model::Gender;

/// Pairing attempts of one request: partners who cannot pay leave, and the search goes on.
const MAX_ATTEMPTS: usize = 5;

pub fn shard_index(state: &AppState, region: &str) -> usize {
    let shards = &state.cfg.matching.shards;
    shards.iter().position(|s| s == region).unwrap_or(0)
}

/// The user's entry in the pool (`here`: where they are now, if they said),
/// from the node's cache or else from Postgres. A suspended user has none
/// (403 with `until`); a suspension forgets the cached entry on every node.
pub async fn ticket(state: &AppState, uid: i64, here: Option<Location>) -> ApiResult<Arc<Ticket>> {
    let ticket = match state.tickets.get(&uid) {
        Ok(ticket) => ticket,
        Err(reading) => {
            let user = store::candidate(&state.db, uid)
                .await?
                .ok_or(ApiError::InvalidToken)?;
            let ticket = Arc::new(build_ticket(state, &user)?);
            state.tickets.insert(reading, uid, ticket.clone());
            ticket
        }
    };
    Ok(match here {
        Some(_) => Arc::new(Ticket {
            location: here,
            ..Ticket::clone(&ticket)
        }),
        None => ticket,
    })
}

/// A user's entry in the pool, from their profile and settings.
fn build_ticket(state: &AppState, user: &Candidate) -> ApiResult<Ticket> {
    if user.suspended {
        return Err(ApiError::suspended(user.suspended_until));
    }
    let cfg = &state.cfg;
    let gender = user.gender.as_deref().and_then(Gender::parse);
    let (Some(age), Some(gender)) = (user.age, gender) else {
        return Err(ApiError::validation(
            "age, gender: both are needed for matching",
        ));
    };
    let settings = user.settings(cfg.min_age, &cfg.matching.shards[0]);
    let relax = if settings.relax {
        let m = &cfg.matching;
        format!(
            "{}:{}:{}:{}",
            m.relax_after_sec * 1000,
            m.relax_every_sec * 1000,
            m.relax_age_step.max(0),
            cfg.min_age
        )
    } else {
        String::new()
    };
    let interests = serde_json::to_string(&settings.interests)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let card = MatchedUser {
        id: user.id,
        username: user.shown_username.clone(),
        age,
        gender,
        profile_image: user.profile_image.as_deref().map(|k| media::url(state, k)),
        rating: user.rating,
        languages: settings.languages.clone(),
        interests: settings.interests.clone(),
        shared_interests: None,
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
        location: settings.location,
        cost: if settings.preferred_gender == Preferred::All {
            0
        } else {
            cfg.matching.filter_gem_cost
        },
        balance: user.gems,
        card: serde_json::to_string(&card).map_err(|e| ApiError::Internal(e.to_string()))?,
        excluded: user.excluded.clone(),
        reach: Reach::new(age, &settings.languages, interests, relax),
    })
}

/// What a search for a partner found.
#[derive(Debug)]
pub enum Search {
    /// A partner (or the user's undecided match, shown again).
    Found {
        match_id: i64,
        partner_card: String,
        remaining_ms: i64,
    },
    /// Nobody yet: wait for `match_found`. With the user's place in the pool
    /// (none when every partner tried could not pay).
    Waiting(Option<Queue>),
    /// The user's new match is being paid for by another of their requests: wait
    /// for its `match_found` (marked answered, since that request answers with it).
    Charging(i64),
}

/// Puts the user in the pool and pairs them if someone fits, charging the
/// gems the pair owes. Run it to its end (`tokio::spawn`): it is not safe to
/// drop half-way.
pub async fn search(
    state: AppState,
    mut ticket: Arc<Ticket>,
    with_status: bool,
) -> ApiResult<Search> {
    let cfg = &state.cfg.matching;
    if ticket.cost > ticket.balance {
        // a cached balance may predate a purchase on any node: only a fresh one refuses
        // boxed, as every rare path here (see the_pairing_task_stays_small)
        let balance = Box::pin(ledger::balance(&state.db, ticket.uid))
            .await?
            .ok_or(ApiError::InvalidToken)?;
        if balance != ticket.balance {
            state.tickets.remove(&ticket.uid);
            ticket = Arc::new(Ticket {
                balance,
                ..Ticket::clone(&ticket)
            });
        }
    }
    for _ in 0..MAX_ATTEMPTS {
        let match_id = state.match_ids.next(&state.db, ticket.shard).await?;
        let now = engine::now_ms();
        let (match_id, partner_card, deadline_ms, partner, partner_cost, partner_since_ms) =
            match engine::pair(&state.redis, cfg, &ticket, match_id, now, with_status).await? {
                PairOutcome::Waiting(queue) => return Ok(Search::Waiting(Some(queue))),
                PairOutcome::Charging { match_id } => return Ok(Search::Charging(match_id)),
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
                } => {
                    return Ok(Search::Found {
                        match_id,
                        partner_card,
                        remaining_ms: deadline_ms - now,
                    });
                }
                PairOutcome::Paired {
                    match_id,
                    partner_card,
                    deadline_ms,
                    partner,
                    partner_cost,
                    partner_since_ms,
                } => (
                    match_id,
                    partner_card,
                    deadline_ms,
                    partner,
                    partner_cost,
                    partner_since_ms,
                ),
            };
        // the paid and refunded paths are boxed: this future is a task of its own, copied
        // whole when it is spawned and when it ends, and sqlx's futures are kilobytes
        if ticket.cost > 0 || partner_cost > 0 {
            match Box::pin(pay(
                &state,
                match_id,
                (ticket.uid, ticket.cost),
                (partner, partner_cost),
            ))
            .await
            {
                Ok(()) => {}
                Err(Unpaid::Caller { balance }) => {
                    return Err(ApiError::NotEnoughGems {
                        required: ticket.cost,
                        balance,
                    });
                }
                // the partner could not pay and left; the caller, back in line, searches again
                Err(Unpaid::Partner) => continue,
                Err(Unpaid::Failed(e)) => return Err(e),
            }
            if !Box::pin(engine::confirm(&state.redis, match_id, engine::now_ms())).await? {
                // the match ended while it was charged: the gems go back, the search goes on
                let refunded = Box::pin(ledger::refund_match(&state.db, match_id)).await?;
                Box::pin(state.users_changed(&refunded)).await;
                continue;
            }
        }
        push_match_found(&state, match_id, partner, &ticket.card, deadline_ms);
        state.metrics.matches.inc();
        state
            .metrics
            .match_wait
            .observe((now - partner_since_ms).max(0) as f64 / 1e3);
        return Ok(Search::Found {
            match_id,
            partner_card,
            remaining_ms: deadline_ms - now,
        });
    }
    Ok(Search::Waiting(None))
}

/// The queue status of SPEC.md: where the user stands now (`queue`: as a
/// pairing just answered, else asked of the pool).
pub async fn queue_status(
    state: &AppState,
    ticket: &Ticket,
    queue: Option<Queue>,
) -> ApiResult<QueueStatus> {
    let (status, queue) = match queue {
        Some(queue) => ("waiting", queue),
        None => {
            let now = engine::now_ms();
            let (standing, queue) =
                engine::status(&state.redis, ticket.uid, ticket.shard, now).await?;
            let status = match standing {
                Standing::Pending => "pending",
                Standing::Waiting => "waiting",
                Standing::Idle => "idle",
            };
            (status, queue)
        }
    };
    let ([min, max], radius) = match queue.filters {
        Some(filters) if status == "waiting" => filters,
        _ => ([ticket.age_min, ticket.age_max], ticket.radius_km),
    };
    let waited_ms = queue.since_ms.map_or(0, |since| engine::now_ms() - since);
    Ok(QueueStatus {
        status,
        waited_sec: waited_ms.max(0) / 1000,
        waiting: queue.waiting,
        estimated_wait_sec: queue.eta_ms.map(|ms| (ms + 500) / 1000),
        age_range: [min, max],
        radius_km: (radius > 0).then_some(radius),
    })
}

/// Out of the pool and out of any undecided match, on every shard (the
/// partner is told `next`); the nodes forget what they cached of the user.
pub async fn leave_matching(state: &AppState, uid: i64) -> ApiResult<()> {
    let cfg = &state.cfg.matching;
    for shard in 0..cfg.shards.len() {
        engine::cancel(&state.redis, uid, shard).await?;
    }
    state.users_changed(&[uid]).await;
    Ok(())
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
        Ok(()) => {
            let charged: Vec<i64> = payers.iter().map(|(uid, _)| *uid).collect();
            state.users_changed(&charged).await;
            return Ok(());
        }
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
    engine::unpair(&state.redis, match_id, &put_back, engine::now_ms())
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

/// Gives back the gems of matches that ended before they were announced.
pub async fn refund_unpaid(state: &AppState, matches: &[i64]) {
    for &match_id in matches {
        match ledger::refund_match(&state.db, match_id).await {
            Ok(users) if users.is_empty() => {}
            Ok(users) => {
                state.users_changed(&users).await;
                tracing::info!(
                    match_id,
                    users = users.len(),
                    "gems of an unannounced match given back"
                )
            }
            Err(e) => {
                tracing::warn!(match_id, error = %e, "refund failed; retried on the next run")
            }
        }
    }
}

/// The waiting partner of a pair just announced hears of it by push if no
/// stream of theirs is open (the caller has the answer of their request).
fn push_match_found(state: &AppState, match_id: i64, partner: i64, card: &str, deadline_ms: i64) {
    // the match cycle's hot path: nothing is built when pushes go nowhere
    if !state.push.enabled() {
        return;
    }
    let Ok(card) = serde_json::value::RawValue::from_string(card.to_owned()) else {
        return;
    };
    let event = Event::MatchFound(MatchFound {
        match_id,
        show_time_sec: ((deadline_ms - engine::now_ms() + 999) / 1000).max(0),
        matched_user: &card,
    });
    let what = format!("match:{match_id}");
    state.push.offer(partner, what, event.to_json());
}
