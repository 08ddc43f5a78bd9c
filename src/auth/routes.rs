//! `/api/auth/...`: signup, login, logout, refresh, register.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::handlers;
use crate::http::body::body;
use crate::http::{client_ip, detached, public, signed_in};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let ip = client_ip(state.cfg.trust_forwarded_for);
    let signup = warp::path!("api" / "auth" / "signup")
        .and(warp::post())
        .and(public(&state))
        .and(ip.clone())
        .and(body())
        .then(|lang, s, ip, b| detached(lang, handlers::signup(s, ip, b)));
    let login = warp::path!("api" / "auth" / "login")
        .and(warp::post())
        .and(public(&state))
        .and(ip.clone())
        .and(body())
        .then(|lang, s, ip, b| detached(lang, handlers::login(s, ip, b)));
    let logout = warp::path!("api" / "auth" / "logout")
        .and(warp::post())
        .and(signed_in(&state))
        .and(body())
        .then(|lang, s, me, b| detached(lang, handlers::logout(s, me, b)));
    let refresh = warp::path!("api" / "auth" / "refresh")
        .and(warp::post())
        .and(public(&state))
        .and(body())
        .then(|lang, s, b| detached(lang, handlers::refresh(s, b)));
    let register = warp::path!("api" / "auth" / "register")
        .and(warp::post())
        .and(public(&state))
        .and(ip)
        .and(body())
        .then(|lang, s, ip, b| detached(lang, handlers::register(s, ip, b)));
    signup
        .or(login)
        .unify()
        .or(logout)
        .unify()
        .or(refresh)
        .unify()
        .or(register)
        .unify()
        .boxed()
}
