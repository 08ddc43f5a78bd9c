//! Successful responses: JSON bodies with their status, and the plain
//! `{"message": ...}` many endpoints answer.

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::error::ApiResult;
use crate::messages::Text;

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

/// `{"message": ...}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    pub message: Text,
}

/// 200 `{"message": ...}`.
pub fn message(text: Text) -> ApiResult<Response> {
    ok(&MessageResponse { message: text })
}
