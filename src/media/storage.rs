//! Where uploaded media live: one interface (`object_store`), two backends
//! chosen by configuration: a local directory (`MEDIA_DIR`, the default) or
//! any S3-compatible object store (`MEDIA_URL=s3://bucket/prefix`, with the
//! usual `AWS_*` variables and `AWS_ENDPOINT_URL` for non-AWS stores), so
//! that nodes on different machines serve the same files.
//!
//! Files are read as streams, whole or in a byte range: a 10 MB voice file is
//! never held in memory to be served.

use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};
use secrecy::ExposeSecret;

use crate::config::Config;

/// Longest part of a key (keys the server makes are 32 hex digits and an extension).
const MAX_SEGMENT: usize = 100;

pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for the logs (`s3://bucket/prefix` or the directory).
    pub location: String,
}

/// A stored file being read: its whole size, the part being sent, the bytes.
pub struct Object {
    pub size: u64,
    pub range: Range<u64>,
    pub body: SyncStream,
}

/// The byte stream of an object (warp's bodies must be `Sync`; this one is
/// only ever polled through `&mut`).
pub struct SyncStream(Mutex<BoxStream<'static, object_store::Result<Bytes>>>);

impl Stream for SyncStream {
    type Item = object_store::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().0.get_mut() {
            Ok(stream) => stream.poll_next_unpin(cx),
            Err(poisoned) => poisoned.into_inner().poll_next_unpin(cx),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("MEDIA_URL {0:?}: only s3://bucket[/prefix] is supported")]
    Scheme(String),
    #[error("media storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("media directory: {0}")]
    Io(#[from] std::io::Error),
}

impl Storage {
    pub fn from_config(cfg: &Config) -> Result<Self, StorageError> {
        match &cfg.media_url {
            None => {
                std::fs::create_dir_all(&cfg.media_dir)?;
                let store = LocalFileSystem::new_with_prefix(&cfg.media_dir)?;
                Ok(Storage {
                    store: Arc::new(store),
                    location: cfg.media_dir.display().to_string(),
                })
            }
            Some(url) => {
                let rest = url
                    .strip_prefix("s3://")
                    .ok_or_else(|| StorageError::Scheme(url.clone()))?;
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let s3 = &cfg.s3;
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&s3.region);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret.expose_secret());
                }
                if let Some(token) = &s3.session_token {
                    builder = builder.with_token(token.expose_secret());
                }
                let store = builder.build()?;
                let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                    "" => Arc::new(store),
                    prefix => Arc::new(PrefixStore::new(store, prefix)),
                };
                Ok(Storage {
                    store,
                    location: url.clone(),
                })
            }
        }
    }

    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        let path = path(key).ok_or_else(|| invalid(key))?;
        self.store.put(&path, PutPayload::from_bytes(data)).await?;
        Ok(())
    }

    /// The file at `key` (`range`: a part of it, already within its size);
    /// `None` when there is none, or when no key the server makes looks so.
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<Object>, StorageError> {
        let Some(path) = path(key) else {
            return Ok(None);
        };
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self.store.get_opts(&path, options).await {
            Ok(found) => Ok(Some(Object {
                size: found.meta.size,
                range: found.range.clone(),
                body: SyncStream(Mutex::new(found.into_stream())),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The size of the file at `key`, if there is one.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let Some(path) = path(key) else {
            return Ok(None);
        };
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = path(key).ok_or_else(|| invalid(key))?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn invalid(key: &str) -> StorageError {
    StorageError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("invalid media key {key:?}"),
    ))
}

/// The path of a key the server could have made (`dir/random.ext`); anything
/// that could step out of the root, or that no such key looks like, is refused.
fn path(key: &str) -> Option<Path> {
    let safe = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg.len() <= MAX_SEGMENT
                && seg != ".."
                && seg != "."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
    safe.then(|| Path::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_root() {
        assert!(path("profiles/abc.jpg").is_some());
        assert!(path("../etc/passwd").is_none());
        assert!(path("profiles/../../x").is_none());
        assert!(path("/abs").is_none());
        assert!(path("").is_none());
        assert!(path(&format!("profiles/{}.png", "a".repeat(300))).is_none());
    }
}
