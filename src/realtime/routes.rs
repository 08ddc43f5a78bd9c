//! `GET /ws` and `GET /api/events`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::{sse, ws};
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
