//! Accounts and sessions of both documents: username signup/login of the
//! matching document, phone register/login of the Talk document, and the
//! shared refresh/logout.

pub mod account;
pub mod password;
pub mod phone;
pub mod tokens;
pub mod validate;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

pub use tokens::{AuthUser, TokenPair, Tokens};

use crate::http::body::body;
use crate::http::{auth, client_ip, detached, with_state};
use crate::state::AppState;

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let ip = client_ip(state.cfg.trust_forwarded_for);
    let st = || with_state(state.clone());
    let signup = warp::path!("api" / "auth" / "signup")
        .and(warp::post())
        .and(st())
        .and(ip.clone())
        .and(body())
        .then(|s, ip, b| detached(account::signup(s, ip, b)));
    let login = warp::path!("api" / "auth" / "login")
        .and(warp::post())
        .and(st())
        .and(ip.clone())
        .and(body())
        .then(|s, ip, b| detached(account::login(s, ip, b)));
    let logout = warp::path!("api" / "auth" / "logout")
        .and(warp::post())
        .and(st())
        .and(auth(state.clone()))
        .and(body())
        .then(|s, a, b| detached(account::logout(s, a, b)));
    let refresh = warp::path!("api" / "auth" / "refresh")
        .and(warp::post())
        .and(st())
        .and(body())
        .then(|s, b| detached(account::refresh(s, b)));
    let register = warp::path!("api" / "auth" / "register")
        .and(warp::post())
        .and(st())
        .and(ip.clone())
        .and(body())
        .then(|s, ip, b| detached(phone::register(s, ip, b)));
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
