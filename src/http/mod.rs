//! Shared HTTP pieces: filters that *extract* (the state, the signed-in
//! caller, the language, bodies, the client address), the way handlers run
//! (`detached`), and the one `recover`; also the one way of calling an
//! outside provider (`provider`: SMS, push, payments).
//!
//! Every route is `path.and(method).and(signed_in(&state))` (or `public`),
//! then `.then(|.., lang, state, me| detached(lang, handler(state, me, ..)))`.
//! A request without a valid token is answered 401 by `signed_in` before any
//! handler runs: a handler cannot forget to check. Handlers *decide*: they
//! return `ApiResult<Response>`, and errors become their contract bodies
//! without warp ever backtracking into other routes.

pub mod body;
pub mod provider;
pub mod reply;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use futures_util::FutureExt;
use warp::filters::BoxedFilter;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub use reply::{MessageResponse, created, json_response, json_text, message, ok};

use crate::error::{ApiError, ApiResult};
use crate::messages::{LANG, Lang};
use crate::session::AuthUser;
use crate::state::AppState;

/// Turns a handler's result into the response, errors into their contract body.
pub fn respond(result: ApiResult<Response>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The language the caller asked for (`Accept-Language`).
pub fn lang() -> impl Filter<Extract = (Lang,), Error = Infallible> + Clone {
    warp::header::optional::<String>("accept-language")
        .or(warp::any().map(|| None))
        .unify()
        .map(|header: Option<String>| Lang::from_accept_language(header.as_deref()))
}

/// A request the routes refused before any handler ran (a bad token): `recover`
/// answers it with its error, whatever other routes said.
#[derive(Debug)]
struct Refused(ApiError);

impl warp::reject::Reject for Refused {}

/// The language and the state, for routes anyone may call.
pub fn public(state: &AppState) -> BoxedFilter<(Lang, AppState)> {
    lang().and(with_state(state.clone())).boxed()
}

/// The language, the state and the signed-in caller; 401 before the handler
/// otherwise. The token comes from `Authorization: Bearer` or, for WebSocket
/// and SSE clients, `?token=`; a header that is not text is a bad token.
pub fn signed_in(state: &AppState) -> BoxedFilter<(Lang, AppState, AuthUser)> {
    let header = warp::header::value("authorization")
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    public(state)
        .and(header)
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and_then(
            |lang: Lang, state: AppState, header: Option<HeaderValue>, query: String| async move {
                let token = match &header {
                    Some(value) => bearer(value),
                    None => query_value(&query, "token"),
                };
                let user = match token {
                    Some(token) => state.tokens.authenticate(&state.redis, &token).await,
                    None => Err(ApiError::InvalidToken),
                };
                match user {
                    Ok(user) => Ok((lang, state, user)),
                    Err(e) => Err(warp::reject::custom(Refused(e))),
                }
            },
        )
        .untuple_one()
        .boxed()
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

/// The value of `name` in a raw query string.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Runs a handler to its end in a task of its own, in the request's language,
/// so that a client who hangs up mid-request cannot cancel it half-way (a
/// transaction left open on a pooled connection, a pair made but not charged).
/// Long polls and streams, which must stop when their client goes, run in the
/// request's task (`in_lang`) and detach only their writes. The task starts at
/// once, so that the route's future holds only its handle, not the handler.
pub fn detached<F>(lang: Lang, handler: F) -> impl Future<Output = Response>
where
    F: Future<Output = ApiResult<Response>> + Send + 'static,
{
    // errors are rendered in the request's language too
    let task = tokio::spawn(in_lang(lang, handler));
    async move {
        match task.await {
            Ok(response) => response,
            Err(e) => ApiError::Internal(format!("handler task: {e}")).into_response(),
        }
    }
}

/// Runs a handler in the request's own task and language. A plain function:
/// an `async fn` here would hold the handler's future twice more, and every
/// route's future is as large as its largest handler's (BENCHMARKS.md).
pub fn in_lang<F>(lang: Lang, handler: F) -> impl Future<Output = Response>
where
    F: Future<Output = ApiResult<Response>>,
{
    LANG.scope(lang, handler.map(respond))
}

/// `limit` (default 20, 1–100) and `before` (an id: only older items) of every list.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

/// Maps what the routes refused to the contract's bodies: a route's own
/// refusal (a bad token) first, then what warp rejects itself (unknown paths,
/// wrong methods). Handlers never reject.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if let Some(Refused(e)) = rejection.find::<Refused>() {
        e.clone()
    } else if rejection.is_not_found() {
        // no route has this path (handlers answer their own 404s, `not_found`)
        ApiError::no_route()
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
