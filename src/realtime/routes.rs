//! `GET /ws` and `GET /api/events`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::{sse, ws};
use crate::http::{in_lang, query_value, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let upgrade = warp::ws().map(Some).or(warp::any().map(|| None)).unify();
    // a bad token is 401 before the upgrade: no socket opens
    let ws = warp::path!("ws")
        .and(warp::get())
        .and(signed_in(&state))
        .and(upgrade)
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(|lang, s, me, ws, query: String| {
            let last = query_value(&query, "last_event_id");
            in_lang(lang, ws::websocket(s, me, ws, last))
        });
    let sse = warp::path!("api" / "events")
        .and(warp::get())
        .and(signed_in(&state))
        .and(warp::header::optional::<String>("last-event-id"))
        .then(|lang, s, me, last| in_lang(lang, sse::events(s, me, last)));
    ws.or(sse).unify().boxed()
}
