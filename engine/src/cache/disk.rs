//! The disk store: one checksummed file per entry, capped in size, evicting the least recently used.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::{CacheKey, codec};
use crate::value::Value;

/// The most entries scanned when opening or evicting; a guard on a huge or foreign folder.
const SCAN_MAX: usize = 1_000_000;

/// A folder of cached outputs, kept under `cap_bytes`.
pub struct DiskCache {
    dir: PathBuf,
    cap_bytes: u64,
    total_bytes: Mutex<u64>,
}

impl DiskCache {
    /// Opens (creating) a cache folder with a size cap.
    pub fn open(dir: impl Into<PathBuf>, cap_bytes: u64) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let total = entries(&dir)?.iter().map(|e| e.1).sum();
        let cache = Self { dir, cap_bytes, total_bytes: Mutex::new(total) };
        cache.evict_if_needed()?;
        Ok(cache)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.syc", key.to_hex()))
    }

    /// Reads an entry. A damaged file is removed and counts as a miss.
    pub fn get(&self, key: &CacheKey) -> Option<Vec<Value>> {
        let path = self.path(key);
        let bytes = fs::read(&path).ok()?;
        match codec::decode(&bytes) {
            Some(values) => {
                // Touch, so eviction sees it as recently used.
                if let Ok(f) = fs::File::options().write(true).open(&path) {
                    let _best_effort = f.set_modified(SystemTime::now());
                }
                Some(values)
            }
            None => {
                tracing::warn!(path = %path.display(), "removing a damaged cache entry");
                self.remove(&path, bytes.len() as u64);
                None
            }
        }
    }

    /// Writes an entry atomically (temp file, then rename), streaming it so a large output is
    /// never copied whole in memory, then evicts to stay under the cap.
    pub fn put(&self, key: &CacheKey, values: &[Value]) -> io::Result<()> {
        if values.iter().map(Value::byte_size).sum::<usize>() as u64 > self.cap_bytes {
            return Ok(());
        }
        let path = self.path(key);
        let tmp = self.dir.join(format!(".{}.{}.tmp", key.to_hex(), std::process::id()));
        let written = {
            let mut f = io::BufWriter::new(fs::File::create(&tmp)?);
            let n = codec::encode_to(values, &mut f);
            n.and_then(|n| f.flush().map(|()| n))
        };
        let written = match written {
            Ok(n) if n <= self.cap_bytes => n,
            other => {
                let _best_effort = fs::remove_file(&tmp);
                return other.map(|_| ());
            }
        };
        let replaced = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::rename(&tmp, &path)?;
        {
            let mut total = self.total_bytes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *total = total.saturating_sub(replaced) + written;
        }
        self.evict_if_needed()
    }

    /// Bytes on disk, as tracked.
    pub fn total_bytes(&self) -> u64 {
        *self.total_bytes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remove(&self, path: &Path, len: u64) {
        if fs::remove_file(path).is_ok() {
            let mut total = self.total_bytes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *total = total.saturating_sub(len);
        }
    }

    /// Over the cap, removes the least recently used entries down to 90% of it.
    fn evict_if_needed(&self) -> io::Result<()> {
        if self.total_bytes() <= self.cap_bytes {
            return Ok(());
        }
        let mut all = entries(&self.dir)?;
        all.sort_by_key(|e| e.2);
        let target = self.cap_bytes / 10 * 9;
        for (path, len, _) in all {
            if self.total_bytes() <= target {
                break;
            }
            self.remove(&path, len);
        }
        Ok(())
    }
}

fn entries(dir: &Path) -> io::Result<Vec<(PathBuf, u64, SystemTime)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)?.take(SCAN_MAX) {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "syc") {
            let meta = entry.metadata()?;
            out.push((path, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_under_cap_and_survives_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let big = vec![Value::Text("x".repeat(400).into())];
        let cache = DiskCache::open(tmp.path(), 1000).unwrap();
        for n in 0..5u8 {
            cache.put(&CacheKey([n; 32]), &big).unwrap();
            assert!(cache.total_bytes() <= 1000);
        }
        assert_eq!(cache.get(&CacheKey([4; 32])).unwrap(), big);
        let path = cache.path(&CacheKey([4; 32]));
        fs::write(&path, b"garbage").unwrap();
        assert!(cache.get(&CacheKey([4; 32])).is_none());
        assert!(!path.exists());
    }
}
