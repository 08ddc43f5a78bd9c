//! Shared HTTP pieces: filters that *extract* (state, auth, client address,
//! bodies), response helpers, and the one `recover` for what warp rejects
//! itself (unknown paths, wrong methods).
//!
//! Handlers *decide*: they take what the filters extracted, return
//! `ApiResult<Response>`, and `respond` turns an error into its contract body
//! so that warp never backtracks into other routes once a path matched.

pub mod body;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    json_text(
        status,
        serde_json::to_string(body).expect("response bodies serialize"),
    )
}

/// A response whose body is JSON text already.
pub fn json_text(status: StatusCode, body: String) -> Response {
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    res
}

pub fn ok<T: Serialize + ?Sized>(body: &T) -> ApiResult<Response> {
    Ok(json_response(StatusCode::OK, body))
}

pub fn created<T: Serialize + ?Sized>(body: &T) -> ApiResult<Response> {
    Ok(json_response(StatusCode::CREATED, body))
}

/// Turns a handler's result into the response, errors into their contract body.
pub fn respond(result: ApiResult<Response>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The caller, or why not: handlers check it first (`let user = auth?;`), so
/// a bad token is a 401 before anything else happens. The token comes from
/// `Authorization: Bearer` or, for WebSocket and SSE clients, `?token=`.
pub fn auth(
    state: AppState,
) -> impl Filter<Extract = (ApiResult<AuthUser>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(with_state(state))
        .then(
            |header: Option<String>, query: String, state: AppState| async move {
                let token = header
                    .as_deref()
                    .and_then(|h| {
                        h.strip_prefix("Bearer ")
                            .or_else(|| h.strip_prefix("bearer "))
                    })
                    .map(str::trim)
                    .map(str::to_owned)
                    .or_else(|| token_from_query(&query));
                match token {
                    Some(token) => state.tokens.authenticate(&state.redis, &token).await,
                    None => Err(ApiError::InvalidToken),
                }
            },
        )
}

fn token_from_query(query: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// `limit` (default 20, 1–100) and `before` (an id: only older items) of every list.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct Page {
    pub limit: Option<i64>,
    pub before: Option<i64>,
}

impl Page {
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit.unwrap_or(20) {
            n @ 1..=100 => Ok(n),
            _ => Err(ApiError::validation("limit: must be 1 to 100")),
        }
    }
}

/// The query string decoded into `T`, or the 422 naming the field.
pub fn query<T: serde::de::DeserializeOwned + Send>()
-> impl Filter<Extract = (ApiResult<T>,), Error = Infallible> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|raw: String| body::decode_form::<T>(raw.as_bytes()))
}

/// The client's address: the socket peer, or the left-most `X-Forwarded-For`
/// entry when the deployment says a trusted proxy sets it.
pub fn client_ip(
    trust_forwarded_for: bool,
) -> impl Filter<Extract = (IpAddr,), Error = Rejection> + Clone {
    warp::addr::remote()
        .and(warp::header::optional::<String>("x-forwarded-for"))
        .map(move |peer: Option<SocketAddr>, forwarded: Option<String>| {
            let forwarded = forwarded
                .filter(|_| trust_forwarded_for)
                .and_then(|f| f.split(',').next().and_then(|ip| ip.trim().parse().ok()));
            forwarded.unwrap_or_else(|| {
                peer.map(|p| p.ip())
                    .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
            })
        })
}

/// Maps what warp itself rejects to the contract's bodies. Handlers never
/// reject, so only routing failures arrive here.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        ApiError::NotFound
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::validation("query: invalid query string")
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some()
        || rejection.find::<warp::reject::MissingHeader>().is_some()
    {
        ApiError::validation("headers: a required header is missing or invalid")
    } else {
        ApiError::Internal(format!("unhandled rejection: {rejection:?}"))
    };
    Ok(error.into_response())
}
