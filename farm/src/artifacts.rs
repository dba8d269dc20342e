//! The farm's shared, content-addressed artifact store: what workers write goes here by its
//! BLAKE3 hash, and the server serves it from here, so workers and the server need no shared
//! folder. A plain folder (the mount farms use) or S3-compatible object storage
//! (`s3://bucket/prefix`, configured by the usual `AWS_*` variables: `AWS_ENDPOINT`,
//! `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`). Objects are
//! keyed `ab/abcdef…`; an object that is already there is not written again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload};

/// The largest artifact, in bytes.
pub const ARTIFACT_MAX_BYTES: u64 = 4 << 30;

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The store's address cannot be used.
    #[error("artifact store {0}")]
    Address(String),
    /// The store refused or failed.
    #[error("artifact store: {0}")]
    Store(#[from] object_store::Error),
    /// A local file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A content-addressed store.
#[derive(Clone, Debug)]
pub struct Artifacts {
    store: Arc<dyn ObjectStore>,
    shown: String,
}

impl Artifacts {
    /// Opens the store at `address`: `s3://bucket[/prefix]`, `file:///path` or a folder path.
    pub fn open(address: &str) -> Result<Self, ArtifactError> {
        let bad = |why: String| ArtifactError::Address(format!("{address:?}: {why}"));
        let store: Arc<dyn ObjectStore> = if let Some(rest) = address.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket; write s3://BUCKET/PREFIX".into()));
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).build()?;
            match prefix.trim_matches('/') {
                "" => Arc::new(s3),
                prefix => Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)),
            }
        } else {
            let folder = PathBuf::from(address.strip_prefix("file://").unwrap_or(address));
            std::fs::create_dir_all(&folder)?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&folder)?)
        };
        Ok(Self { store, shown: address.to_string() })
    }

    /// Stores the file at `path` by its content; `(hash, bytes)`. Already there: not sent again.
    pub async fn put_file(&self, path: &Path) -> Result<(String, u64), ArtifactError> {
        let bytes = tokio::fs::read(path).await?;
        if bytes.len() as u64 > ARTIFACT_MAX_BYTES {
            return Err(ArtifactError::Address(format!("{} is over {ARTIFACT_MAX_BYTES} bytes", path.display())));
        }
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let key = key_of(&hash);
        let len = bytes.len() as u64;
        if self.store.head(&key).await.is_err() {
            self.store.put(&key, PutPayload::from(bytes)).await?;
        }
        Ok((hash, len))
    }

    /// Whether content `hash` is stored (`false` too for what is not a hash).
    pub async fn has(&self, hash: &str) -> Result<bool, ArtifactError> {
        if !is_hash(hash) {
            return Ok(false);
        }
        match self.store.head(&key_of(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores `bytes`, whose hash the caller checked is `hash`.
    pub async fn put_bytes(&self, hash: &str, bytes: Vec<u8>) -> Result<(), ArtifactError> {
        if !is_hash(hash) {
            return Err(ArtifactError::Address(format!("{hash:?} is not a content hash")));
        }
        if !self.has(hash).await? {
            self.store.put(&key_of(hash), PutPayload::from(bytes)).await?;
        }
        Ok(())
    }

    /// The bytes stored under `hash`, or `None` when there are none (or the hash is not one).
    pub async fn get(&self, hash: &str) -> Result<Option<Vec<u8>>, ArtifactError> {
        if !is_hash(hash) {
            return Ok(None);
        }
        self.read(&key_of(hash)).await
    }

    /// The cache entry under `key` (a cache key's hex), or `None`.
    pub async fn get_cache(&self, key: &str) -> Result<Option<Vec<u8>>, ArtifactError> {
        if !is_hash(key) {
            return Ok(None);
        }
        self.read(&cache_key_of(key)).await
    }

    /// The object under `key`, or `None`.
    async fn read(&self, key: &Key) -> Result<Option<Vec<u8>>, ArtifactError> {
        match self.store.get(key).await {
            Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps a cache entry under `key` (a cache key's hex): an output cache's shared tier.
    pub async fn put_cache(&self, key: &str, bytes: Vec<u8>) -> Result<(), ArtifactError> {
        if !is_hash(key) {
            return Err(ArtifactError::Address(format!("{key:?} is not a cache key")));
        }
        self.store.put(&cache_key_of(key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// Where it is, for logs.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn cache_key_of(key: &str) -> Key {
    Key::from(format!("cache/{}/{key}", &key[..2.min(key.len())]))
}

/// A lowercase hex BLAKE3 hash.
fn is_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn key_of(hash: &str) -> Key {
    Key::from(format!("{}/{hash}", &hash[..2.min(hash.len())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_store_keeps_files_by_content_once() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = std::env::temp_dir().join(format!("artifacts-{}", uuid::Uuid::now_v7().simple()));
            let store = Artifacts::open(dir.join("store").to_str().unwrap()).unwrap();
            std::fs::write(dir.join("a.png"), b"same bytes").unwrap();
            std::fs::write(dir.join("b.png"), b"same bytes").unwrap();
            let (a, len) = store.put_file(&dir.join("a.png")).await.unwrap();
            let (b, _) = store.put_file(&dir.join("b.png")).await.unwrap();
            assert_eq!((a.as_str(), len), (b.as_str(), 10), "one object for one content");
            assert_eq!(store.get(&a).await.unwrap().as_deref(), Some(&b"same bytes"[..]));
            assert_eq!(store.get(&"0".repeat(64)).await.unwrap(), None);
            assert_eq!(store.get("../../etc/passwd").await.unwrap(), None, "only hashes are keys");
            assert!(Artifacts::open("s3://").is_err());
            let _ = std::fs::remove_dir_all(&dir);
        });
    }
}
