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
use warp::http::{HeaderValue, StatusCode};
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
/// `Authorization: Bearer` or, for WebSocket and SSE clients, `?token=`. The
/// header is read as raw bytes: one that is not text is a bad token (401),
/// not a reason for warp to try other routes.
pub fn auth(
    state: AppState,
) -> impl Filter<Extract = (ApiResult<AuthUser>,), Error = Infallible> + Clone {
    let header = warp::header::value("authorization")
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    header
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(with_state(state))
        .then(
            |header: Option<HeaderValue>, query: String, state: AppState| async move {
                let token = match header {
                    Some(value) => bearer(&value).ok_or(ApiError::InvalidToken)?,
                    None => token_from_query(&query).ok_or(ApiError::InvalidToken)?,
                };
                state.tokens.authenticate(&state.redis, &token).await
            },
        )
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
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

/// The client's address: the socket peer, or, behind `hops` trusted proxies,
/// the `hops`-th address from the right of `X-Forwarded-For` (the one the
/// outermost trusted proxy saw; addresses further left are the client's say).
pub fn client_ip(hops: usize) -> impl Filter<Extract = (IpAddr,), Error = Rejection> + Clone {
    warp::addr::remote()
        .and(warp::header::optional::<String>("x-forwarded-for"))
        .map(move |peer: Option<SocketAddr>, forwarded: Option<String>| {
            let forwarded = forwarded
                .filter(|_| hops > 0)
                .and_then(|f| forwarded_client(&f, hops));
            forwarded.unwrap_or_else(|| {
                peer.map(|p| p.ip())
                    .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
            })
        })
}

/// The `hops`-th address from the right of an `X-Forwarded-For` value.
fn forwarded_client(header: &str, hops: usize) -> Option<IpAddr> {
    header
        .rsplit(',')
        .nth(hops.checked_sub(1)?)
        .and_then(|ip| ip.trim().parse().ok())
}

/// Runs a handler to its end in a task of its own, so that a client that
/// hangs up mid-request cannot cancel it half-way (a transaction left open
/// on a pooled connection, a pair made but not charged). Long polls and
/// streams, which must stop when their client goes, detach only their writes.
pub async fn detached<F>(handler: F) -> Response
where
    F: std::future::Future<Output = ApiResult<Response>> + Send + 'static,
{
    match tokio::spawn(handler).await {
        Ok(result) => respond(result),
        Err(e) => ApiError::Internal(format!("handler task: {e}")).into_response(),
    }
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

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    #[test]
    fn the_client_is_counted_from_the_right() {
        let header = "6.6.6.6, 1.2.3.4, 10.0.0.1";
        assert_eq!(
            forwarded_client(header, 1),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(header, 2),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(header, 3),
            Some("6.6.6.6".parse().unwrap())
        );
        assert_eq!(forwarded_client(header, 4), None);
        assert_eq!(forwarded_client("garbage", 1), None);
    }
}
