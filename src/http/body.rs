//! Request bodies read by the handlers themselves, with size limits, so that
//! every malformed body is a contract error (422/413), never a warp
//! rejection or a 500.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
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
            let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
            return serde_path_to_error::deserialize(de)
                .map_err(|e| field_error(e.path(), e.inner()));
        }
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            // serde_json ends its messages with the position; the field path says more
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            let message = inner.to_string();
            let message = message.strip_suffix(&position).unwrap_or(&message);
            if inner.is_syntax() || inner.is_eof() {
                ApiError::validation(format!("body: malformed JSON ({message})"))
            } else {
                field_error(e.path(), &message)
            }
        })?;
        de.end()
            .map_err(|e| ApiError::validation(format!("body: malformed JSON ({e})")))?;
        Ok(value)
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
                let text = field.text().await.map_err(multipart_error)?;
                form.fields.insert(name, text);
            }
        }
        Ok(form)
    }
}

/// `application/x-www-form-urlencoded` (a form body or a query string) into `T`.
pub fn decode_form<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(de).map_err(|e| field_error(e.path(), e.inner()))
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
