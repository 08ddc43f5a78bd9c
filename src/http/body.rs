//! Request bodies read by the handlers themselves, with size limits, so that
//! every malformed body is a contract error (422/413), never a warp
//! rejection or a 500. This is also the one place where text is checked:
//! a NUL character or invalid UTF-8 in any field (JSON, form, query string,
//! multipart) is a 422 naming the field, before a handler sees it.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use warp::{Filter, Rejection};

use crate::error::{ApiError, ApiResult};

/// Largest JSON or form body accepted.
pub const JSON_LIMIT: u64 = 64 * 1024;
/// Largest text part of a multipart body.
const TEXT_PART_LIMIT: u64 = 64 * 1024;

type BodyStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>> + Send>>;

/// A request body not read yet, with its content type and declared length.
pub struct Body {
    content_type: Option<String>,
    content_length: Option<u64>,
    stream: BodyStream,
}

pub fn body() -> impl Filter<Extract = (Body,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .map(into_body)
}

fn into_body(
    content_type: Option<String>,
    content_length: Option<u64>,
    stream: impl Stream<Item = Result<impl Buf, warp::Error>> + Send + 'static,
) -> Body {
    let stream = stream.map(|chunk| {
        chunk
            .map(|mut buf| buf.copy_to_bytes(buf.remaining()))
            .map_err(|e| ApiError::validation(format!("body: {e}")))
    });
    Body {
        content_type,
        content_length,
        stream: Box::pin(stream),
    }
}

/// A file part of a multipart body.
pub struct Upload {
    pub file_name: Option<String>,
    pub data: Bytes,
}

/// A multipart body: its text fields and its file parts, by field name.
#[derive(Default)]
pub struct Form {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, Upload>,
}

impl Form {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl Body {
    fn too_large(&self, limit: u64) -> bool {
        self.content_length.is_some_and(|len| len > limit)
    }

    /// The whole body, refusing (413) as soon as it passes `limit` bytes.
    pub async fn bytes(mut self, limit: u64) -> ApiResult<Bytes> {
        if self.too_large(limit) {
            return Err(ApiError::PayloadTooLarge);
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            let chunk = chunk?;
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// A JSON body (or an HTML form, as Django clients may send), decoded
    /// into `T`; any problem is a 422 naming the field.
    pub async fn json<T: DeserializeOwned>(self) -> ApiResult<T> {
        let is_form = self
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let bytes = self.bytes(JSON_LIMIT).await?;
        if is_form {
            return decode_form(&bytes);
        }
        // every JSON body of the API is an object: another JSON value is refused
        // (serde would fill a struct from an array by position); what is not JSON at
        // all is malformed, below
        let bytes: &[u8] = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => b"{}",
            Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                return Err(ApiError::validation("body: must be a JSON object"));
            }
            Some(_) => &bytes,
        };
        if let Some(decoded) = decode_plain_json(bytes) {
            return Ok(decoded);
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            // serde_json ends its messages with the position; the message says enough
            let position = format!(" at line {} column {}", e.line(), e.column());
            let message = e.to_string();
            let message = message.strip_suffix(&position).unwrap_or(&message);
            ApiError::validation(format!("body: malformed JSON ({message})"))
        })?;
        if let Some(path) = nul_in(&value, String::new()) {
            return Err(no_nul(&path));
        }
        serde_path_to_error::deserialize(value).map_err(|e| field_error(e.path(), e.inner()))
    }

    /// A `multipart/form-data` body. Parts named in `file_fields` may hold up
    /// to `file_limit` bytes (413 beyond, without reading the rest); other
    /// parts are text of at most 64 KiB.
    pub async fn multipart(self, file_fields: &[&str], file_limit: u64) -> ApiResult<Form> {
        let whole_limit = file_limit * file_fields.len() as u64 + 256 * 1024;
        if self.too_large(whole_limit) {
            return Err(ApiError::PayloadTooLarge);
        }
        let boundary = self
            .content_type
            .as_deref()
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| ApiError::validation("body: expected multipart/form-data"))?;
        let mut limits = multer::SizeLimit::new()
            .whole_stream(whole_limit)
            .per_field(TEXT_PART_LIMIT);
        for name in file_fields {
            limits = limits.for_field(*name, file_limit);
        }
        let constraints = multer::Constraints::new().size_limit(limits);
        let mut multipart = multer::Multipart::with_constraints(self.stream, boundary, constraints);
        let mut form = Form::default();
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            if file_fields.contains(&name.as_str()) {
                let file_name = field.file_name().map(str::to_owned);
                let data = field.bytes().await.map_err(multipart_error)?;
                form.files.insert(name, Upload { file_name, data });
            } else {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                let text = text(&name, bytes.to_vec())?;
                form.fields.insert(name, text);
            }
        }
        Ok(form)
    }
}

/// A body decoded in one pass, when it is UTF-8 without any `\u` escape (the
/// only way JSON can write a NUL or a lone surrogate) and decoding succeeds.
/// Anything else takes `json`'s path through a `Value`, which names the field at
/// fault. The one difference: a field the endpoint does not read is only checked
/// for JSON syntax on this path, so a number past a double's range or nesting
/// deeper than 128 in it is ignored rather than refused (docs/production.md).
fn decode_plain_json<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.contains("\\u") {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let decoded = T::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(decoded)
}

/// `application/x-www-form-urlencoded` (a form body or a query string) into `T`.
pub fn decode_form<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    check_form_text(bytes)?;
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(de).map_err(|e| field_error(e.path(), e.inner()))
}

/// Every name and value of a form decodes to UTF-8 text without NUL (the
/// form decoder itself would replace bad bytes silently).
fn check_form_text(bytes: &[u8]) -> ApiResult<()> {
    // nothing percent-encoded and only ASCII without NUL: every part is text
    if !bytes.contains(&b'%') && bytes.iter().all(|&b| b.is_ascii() && b != 0) {
        return Ok(());
    }
    let decode = |part: &[u8]| {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced).collect::<Vec<u8>>()
    };
    for pair in bytes.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = pair.splitn(2, |&b| b == b'=');
        let name = decode(halves.next().unwrap_or_default());
        let name = String::from_utf8(name)
            .map_err(|_| ApiError::validation("query: names must be UTF-8 text"))?;
        text(&name, decode(halves.next().unwrap_or_default()))?;
    }
    Ok(())
}

/// A field's bytes as text: UTF-8 and without NUL, or the 422 naming the field.
fn text(field: &str, bytes: Vec<u8>) -> ApiResult<String> {
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::validation(format!("{field}: must be UTF-8 text")))?;
    if text.contains('\0') {
        return Err(no_nul(field));
    }
    Ok(text)
}

fn no_nul(field: &str) -> ApiError {
    let field = if field.is_empty() { "body" } else { field };
    ApiError::validation(format!("{field}: must not contain NUL characters"))
}

/// The path of the first string (or key) of a JSON value that holds a NUL.
fn nul_in(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(at)
            } else {
                nul_in(v, at)
            }
        }),
        _ => None,
    }
}

fn multipart_error(e: multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError::PayloadTooLarge
        }
        other => ApiError::validation(format!("body: broken multipart ({other})")),
    }
}

fn field_error(path: &serde_path_to_error::Path, e: &dyn std::fmt::Display) -> ApiError {
    let path = path.to_string();
    if path == "." || path.is_empty() {
        ApiError::validation(e.to_string())
    } else {
        ApiError::validation(format!("{path}: {e}"))
    }
}
