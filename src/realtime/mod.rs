//! Realtime delivery: the node's event hub fed by Redis (`hub`), the
//! protocol (`protocol`), `GET /ws` (`ws`) and `GET /api/events` (`sse`).

pub mod hub;
pub mod protocol;
pub mod sse;
pub mod ws;

use std::time::Duration;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::http::signed_in;
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let upgrade = warp::ws().map(Some).or(warp::any().map(|| None)).unify();
    // a bad token is 401 before the upgrade: no socket opens
    let ws = warp::path!("ws")
        .and(warp::get())
        .and(signed_in(&state))
        .and(upgrade)
        .map(|_lang, s, me, ws| ws::websocket(s, me, ws));
    let sse = warp::path!("api" / "events")
        .and(warp::get())
        .and(signed_in(&state))
        .map(|_lang, s, me| sse::events(s, me));
    ws.or(sse).unify().boxed()
}

/// When an access token that expires at `unix` (seconds) stops being valid.
pub fn expiry_instant(unix: i64) -> tokio::time::Instant {
    let left = (unix - chrono::Utc::now().timestamp()).max(0) as u64;
    tokio::time::Instant::now() + Duration::from_secs(left)
}
