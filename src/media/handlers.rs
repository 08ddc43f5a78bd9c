//! Serving stored files: profile images to anyone, voice files through the
//! routes that check who may hear them (broadcasts, conversations).

use std::convert::Infallible;
use std::ops::Range;

use warp::Filter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use super::{PROFILE_DIR, voice};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What a client sent that decides how a file is served: a byte range (iOS
/// players seek and read durations with them), and the ETag it holds.
#[derive(Clone, Debug, Default)]
pub struct Fetch {
    pub range: Option<String>,
    pub if_none_match: Option<String>,
}

/// The `Range` and `If-None-Match` headers of a request.
pub fn fetch() -> impl Filter<Extract = (Fetch,), Error = Infallible> + Clone {
    let header = |name: &'static str| {
        warp::header::optional::<String>(name)
            .or(warp::any().map(|| None))
            .unify()
    };
    header("range")
        .and(header("if-none-match"))
        .map(|range, if_none_match| Fetch {
            range,
            if_none_match,
        })
}

/// The bytes of a voice file, as uploaded; they never change, but who may
/// hear them can (a block), so they are cached privately and briefly.
pub async fn serve_voice(state: &AppState, key: &str, fetch: Fetch) -> ApiResult<Response> {
    let content_type = key
        .rsplit('.')
        .next()
        .and_then(voice::VoiceFormat::from_extension)
        .map_or("application/octet-stream", voice::VoiceFormat::content_type);
    serve(state, key, content_type, "private, max-age=3600", fetch).await
}

#[utoipa::path(get, path = "/media/profiles/{name}", tag = "media", operation_id = "profile_image",
    description = "A profile image, as `profile_image` URLs name it; public, cached for good. \
                   Answers `Range` (206) and `If-None-Match` (304).",
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "The image (JPEG, PNG or WebP)"),
        (status = 206, description = "The requested bytes"),
        (status = 304, description = "Not modified"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 416, description = "Range not satisfiable")))]
pub async fn profile_image(state: AppState, name: String, fetch: Fetch) -> ApiResult<Response> {
    let content_type = match name.rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    let key = format!("{PROFILE_DIR}/{name}");
    let cache = "public, max-age=31536000, immutable";
    serve(&state, &key, content_type, cache, fetch).await
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq)]
enum Wanted {
    Whole,
    Part(Range<u64>),
    /// Outside the file: 416.
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); anything else (several ranges,
/// other units, nonsense) is served whole, as HTTP allows.
fn wanted(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Wanted::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.parse::<u64>(), end.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => a..(b + 1).min(size),
        (Ok(a), Err(_)) if end.is_empty() => a..size,
        (Err(_), Ok(n)) if start.is_empty() => size.saturating_sub(n)..size,
        _ => return Wanted::Whole,
    };
    if range.start >= size || range.is_empty() {
        Wanted::Unsatisfiable
    } else {
        Wanted::Part(range)
    }
}

/// A stored file as a response, whole (200) or in part (206), or 304 when the
/// client holds it already; 404 when there is none. Stored files never change
/// (their names are random), so the name is their ETag.
async fn serve(
    state: &AppState,
    key: &str,
    content_type: &'static str,
    cache: &'static str,
    fetch: Fetch,
) -> ApiResult<Response> {
    let etag = format!("\"{}\"", key.rsplit('/').next().unwrap_or(key));
    let storage_error = |e| ApiError::Internal(format!("media read: {e}"));
    let range = match &fetch.range {
        None => None,
        Some(header) => {
            let size = state
                .storage
                .size(key)
                .await
                .map_err(storage_error)?
                .ok_or(ApiError::NotFound)?;
            match wanted(Some(header), size) {
                Wanted::Whole => None,
                Wanted::Part(range) => Some(range),
                Wanted::Unsatisfiable => {
                    let mut res = Response::new(bytes::Bytes::new().into());
                    *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                    let value = HeaderValue::from_str(&format!("bytes */{size}"))
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    res.headers_mut().insert(header::CONTENT_RANGE, value);
                    return Ok(res);
                }
            }
        }
    };
    let not_modified = fetch
        .if_none_match
        .as_deref()
        .is_some_and(|held| held.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let (status, mut res) = if not_modified {
        // nothing to read: only that it exists
        if state
            .storage
            .size(key)
            .await
            .map_err(storage_error)?
            .is_none()
        {
            return Err(ApiError::NotFound);
        }
        (
            StatusCode::NOT_MODIFIED,
            Response::new(bytes::Bytes::new().into()),
        )
    } else {
        let object = state
            .storage
            .get(key, range.clone())
            .await
            .map_err(storage_error)?
            .ok_or(ApiError::NotFound)?;
        let status = if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        let length = object.range.end - object.range.start;
        let mut res = warp::reply::stream(object.body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_LENGTH, length.into());
        if status == StatusCode::PARTIAL_CONTENT {
            let value = format!(
                "bytes {}-{}/{}",
                object.range.start,
                object.range.end - 1,
                object.size
            );
            let value =
                HeaderValue::from_str(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
            headers.insert(header::CONTENT_RANGE, value);
        }
        (status, res)
    };
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::{Wanted, wanted};

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-9"), 100), Wanted::Part(0..10));
        assert_eq!(wanted(Some("bytes=90-"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=-10"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=50-500"), 100), Wanted::Part(50..100));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("items=0-1"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=9-1"), 100), Wanted::Whole);
    }
}
