//! Where uploaded media lives. `MediaStorage` is the seam for an object
//! store; `DiskStorage` keeps files under `MEDIA_DIR`.

use std::path::{Path, PathBuf};

use bytes::Bytes;

#[async_trait::async_trait]
pub trait MediaStorage: Send + Sync {
    async fn put(&self, key: &str, data: Bytes) -> std::io::Result<()>;
    /// `None` when no file has that key.
    async fn get(&self, key: &str) -> std::io::Result<Option<Bytes>>;
    async fn delete(&self, key: &str) -> std::io::Result<()>;
}

/// Longest part of a key (keys the server makes are 32 hex digits and an extension).
const MAX_SEGMENT: usize = 100;

pub struct DiskStorage {
    root: PathBuf,
}

impl DiskStorage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DiskStorage { root: root.into() }
    }

    /// Keys are made by the server (`dir/random.ext`); anything that could
    /// step out of the root, or that no key the server makes looks like (a
    /// name too long for the file system), is refused.
    fn path(&self, key: &str) -> Option<PathBuf> {
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
        safe.then(|| self.root.join(Path::new(key)))
    }
}

fn invalid_key() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid media key")
}

#[async_trait::async_trait]
impl MediaStorage for DiskStorage {
    async fn put(&self, key: &str, data: Bytes) -> std::io::Result<()> {
        let path = self.path(key).ok_or_else(invalid_key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // write then rename, so that a reader never sees half a file
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, &data).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    async fn get(&self, key: &str) -> std::io::Result<Option<Bytes>> {
        let Some(path) = self.path(key) else {
            return Ok(None);
        };
        match tokio::fs::read(path).await {
            Ok(data) => Ok(Some(data.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        let path = self.path(key).ok_or_else(invalid_key)?;
        match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_root() {
        let s = DiskStorage::new("/srv/media");
        assert!(s.path("profiles/abc.jpg").is_some());
        assert!(s.path("../etc/passwd").is_none());
        assert!(s.path("profiles/../../x").is_none());
        assert!(s.path("/abs").is_none());
        assert!(s.path("").is_none());
        assert!(
            s.path(&format!("profiles/{}.png", "a".repeat(300)))
                .is_none()
        );
    }
}
