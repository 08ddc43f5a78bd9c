//! `/api/auth/request_code`, `/resend_code`, `/verify_code`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{client_ip, detached, public};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let ip = client_ip(state.cfg.trust_forwarded_for);
    let request = warp::path!("api" / "auth" / "request_code")
        .and(warp::post())
        .and(public(&state))
        .and(ip.clone())
        .and(body())
        .then(|lang, s, ip, b| detached(lang, handlers::request_code(s, ip, b)));
    let resend = warp::path!("api" / "auth" / "resend_code")
        .and(warp::post())
        .and(public(&state))
        .and(ip)
        .and(body())
        .then(|lang, s, ip, b| detached(lang, handlers::resend_code(s, ip, b)));
    let verify = warp::path!("api" / "auth" / "verify_code")
        .and(warp::post())
        .and(public(&state))
        .and(body())
        .then(|lang, s, b| detached(lang, handlers::verify_code(s, b)));
    request.or(resend).unify().or(verify).unify().boxed()
}
