//! The disk store: small entries packed into segment files (`pack/`), larger ones a
//! checksummed file each, all capped in size together, evicting the least recently used.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::pack::{Pack, SMALL_MAX_BYTES};
use super::{CacheKey, codec, lock};
use crate::value::Value;

/// The most entries scanned when opening or evicting; a guard on a huge or foreign folder.
const SCAN_MAX: usize = 1_000_000;

/// How long one look at the folder's time answers for misses: a million misses cost a
/// million `stat`s otherwise. An entry file another process writes within it is made again
/// here, never read wrong.
const FOLDER_LOOK_MS: u64 = 50;

/// The folder's modification time when the set of entry files was last known complete, and
/// when the folder was last seen at that time.
struct FolderLook {
    as_of: Option<SystemTime>,
    seen: Option<Instant>,
}

/// A folder of cached outputs, kept under `cap_bytes`.
pub struct DiskCache {
    dir: PathBuf,
    cap_bytes: u64,
    /// Bytes in entry files (the pack counts its own).
    total_bytes: Mutex<u64>,
    /// The keys that have an entry file, so a miss is known without touching the disk
    /// (entries another process writes after this one opened are not seen: a recompute).
    files: Mutex<HashSet<CacheKey>>,
    /// The folder's modification time when `files` was last known complete, and when it
    /// was last seen so: while it holds, no other process has added an entry file.
    folder: Mutex<FolderLook>,
    pack: Pack,
}

/// Where the disk store holds a key, as far as this process knows without I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// Not held.
    No,
    /// In a segment: a small read.
    Packed,
    /// In a file of its own: read it on a blocking thread.
    File,
    /// Another process has changed the folder since it was read: look on a blocking thread.
    Unsure,
}

impl DiskCache {
    /// Opens (creating) a cache folder with a size cap.
    pub fn open(dir: impl Into<PathBuf>, cap_bytes: u64) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let found = entries(&dir)?;
        let total = found.iter().map(|e| e.1).sum();
        let files = found.iter().filter_map(|e| key_of(&e.0)).collect();
        let pack = Pack::open(dir.join("pack"), cap_bytes)?;
        let folder = Mutex::new(FolderLook { as_of: modified(&dir), seen: None });
        let files = Mutex::new(files);
        let cache = Self { dir, cap_bytes, total_bytes: Mutex::new(total), files, folder, pack };
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

    /// Where `key` is held, from memory alone.
    pub fn held(&self, key: &CacheKey) -> Held {
        if self.pack.contains(key) { Held::Packed } else { self.held_unpacked(key) }
    }

    /// Where `key` stands outside the pack: a file, not held, or unsure.
    pub fn held_unpacked(&self, key: &CacheKey) -> Held {
        if lock(&self.files).contains(key) {
            Held::File
        } else if self.folder_unchanged() {
            Held::No
        } else {
            Held::Unsure
        }
    }

    /// Whether no other process has added an entry file: the folder's time, looked at once
    /// per `FOLDER_LOOK_MS` at most.
    fn folder_unchanged(&self) -> bool {
        let mut look = lock(&self.folder);
        if look.seen.is_some_and(|t| t.elapsed() < Duration::from_millis(FOLDER_LOOK_MS)) {
            return true;
        }
        let unchanged = look.as_of == modified(&self.dir);
        if unchanged {
            look.seen = Some(Instant::now());
        }
        unchanged
    }

    /// Notes that the folder's change was this process's own.
    fn own_change(&self) {
        *lock(&self.folder) = FolderLook { as_of: modified(&self.dir), seen: Some(Instant::now()) };
    }

    /// Whether `values` go into a segment (an append of at most 16 KiB) rather than a file.
    pub fn packs(values: &[Value]) -> bool {
        values.iter().map(Value::byte_size).sum::<usize>() <= SMALL_MAX_BYTES
    }

    /// A packed entry's values, found with one look at the index; a damaged one is forgotten
    /// and reads as none.
    pub fn get_packed(&self, key: &CacheKey) -> Option<Vec<Value>> {
        let bytes = self.pack.get(key)?;
        self.decode_packed(key, &bytes)
    }

    fn decode_packed(&self, key: &CacheKey, bytes: &[u8]) -> Option<Vec<Value>> {
        let values = codec::decode(bytes);
        if values.is_none() {
            tracing::warn!("dropping a damaged packed cache entry");
            self.pack.forget(key);
        }
        values
    }

    /// Reads an entry. A damaged file is removed and counts as a miss.
    pub fn get(&self, key: &CacheKey) -> Option<Vec<Value>> {
        if let Some(bytes) = self.pack.get(key) {
            return self.decode_packed(key, &bytes);
        }
        let path = self.path(key);
        let bytes = fs::read(&path).ok()?;
        match codec::decode(&bytes) {
            Some(values) => {
                lock(&self.files).insert(*key);
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
        let size = values.iter().map(Value::byte_size).sum::<usize>();
        if size as u64 > self.cap_bytes {
            return Ok(());
        }
        if Self::packs(values) {
            let mut encoded = Vec::with_capacity(size + 64);
            codec::encode_to(values, &mut encoded)?;
            if encoded.len() <= SMALL_MAX_BYTES {
                self.pack.put(key, &encoded)?;
                return self.evict_if_needed();
            }
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
        lock(&self.files).insert(*key);
        self.own_change();
        {
            let mut total = lock(&self.total_bytes);
            *total = total.saturating_sub(replaced) + written;
        }
        self.evict_if_needed()
    }

    /// Writes out packed entries still buffered in memory.
    pub fn flush(&self) -> io::Result<()> {
        self.pack.flush()
    }

    /// Bytes on disk, as tracked: entry files and packed segments.
    pub fn total_bytes(&self) -> u64 {
        *lock(&self.total_bytes) + self.pack.total_bytes()
    }

    fn remove(&self, path: &Path, len: u64) {
        if let Some(key) = key_of(path) {
            lock(&self.files).remove(&key);
        }
        if fs::remove_file(path).is_ok() {
            self.own_change();
            let mut total = lock(&self.total_bytes);
            *total = total.saturating_sub(len);
        }
    }

    /// Over the cap, removes the least recently used entry files and packed segments down
    /// to 90% of it (a segment goes whole; the one being appended to stays).
    fn evict_if_needed(&self) -> io::Result<()> {
        if self.total_bytes() <= self.cap_bytes {
            return Ok(());
        }
        let mut all: Vec<(PathBuf, u64, SystemTime, bool)> =
            entries(&self.dir)?.into_iter().map(|(p, len, t)| (p, len, t, false)).collect();
        all.extend(self.pack.segments().into_iter().map(|(p, len, t)| (p, len, t, true)));
        all.sort_by_key(|e| e.2);
        let target = self.cap_bytes / 10 * 9;
        for (path, len, _, packed) in all {
            if self.total_bytes() <= target {
                break;
            }
            match packed {
                true => drop(self.pack.remove_segment(&path)),
                false => self.remove(&path, len),
            }
        }
        Ok(())
    }
}

/// A folder's modification time, if it can be read.
fn modified(dir: &Path) -> Option<SystemTime> {
    fs::metadata(dir).and_then(|m| m.modified()).ok()
}

/// The key an entry file is named after.
fn key_of(path: &Path) -> Option<CacheKey> {
    let stem = path.file_stem()?.to_str()?;
    let hash = blake3::Hash::from_hex(stem).ok()?;
    Some(CacheKey(*hash.as_bytes()))
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
    fn small_entries_are_packed_and_stay_under_the_cap_with_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let small = vec![Value::Text("x".repeat(400).into())];
        let cache = DiskCache::open(tmp.path(), 4_000).unwrap();
        for n in 0..40u8 {
            cache.put(&CacheKey([n; 32]), &small).unwrap();
            assert!(cache.total_bytes() <= 4_000, "{}", cache.total_bytes());
        }
        assert_eq!(cache.get(&CacheKey([39; 32])).unwrap(), small);
        assert!(cache.get(&CacheKey([0; 32])).is_none(), "the oldest were evicted");
        assert!(entries(tmp.path()).unwrap().is_empty(), "no file per small entry");
        drop(cache);
        let cache = DiskCache::open(tmp.path(), 4_000).unwrap();
        assert_eq!(cache.get(&CacheKey([39; 32])).unwrap(), small, "packed entries outlive the process");
    }

    #[test]
    fn misses_are_known_in_memory_until_another_process_adds_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (DiskCache::open(tmp.path(), 1 << 20).unwrap(), DiskCache::open(tmp.path(), 1 << 20).unwrap());
        let (small, big) = (vec![Value::Int(7)], vec![Value::Text("x".repeat(40_000).into())]);
        assert_eq!(a.held(&CacheKey([1; 32])), Held::No);
        a.put(&CacheKey([1; 32]), &small).unwrap();
        assert_eq!(a.held(&CacheKey([1; 32])), Held::Packed);
        a.put(&CacheKey([2; 32]), &big).unwrap();
        assert_eq!(a.held(&CacheKey([2; 32])), Held::File);
        assert_eq!(a.held(&CacheKey([3; 32])), Held::No, "its own file did not make it unsure");
        assert_eq!(b.held(&CacheKey([2; 32])), Held::Unsure, "another process's file is looked for");
        assert_eq!(b.get(&CacheKey([2; 32])).unwrap(), big);
        assert_eq!(b.held(&CacheKey([2; 32])), Held::File);
    }

    #[test]
    fn one_look_at_the_folder_answers_misses_for_a_while() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (DiskCache::open(tmp.path(), 1 << 20).unwrap(), DiskCache::open(tmp.path(), 1 << 20).unwrap());
        let big = vec![Value::Text("x".repeat(40_000).into())];
        assert_eq!(b.held(&CacheKey([1; 32])), Held::No);
        let looked = Instant::now();
        a.put(&CacheKey([2; 32]), &big).unwrap();
        let held = b.held(&CacheKey([2; 32]));
        if looked.elapsed() < Duration::from_millis(FOLDER_LOOK_MS) {
            assert_eq!(held, Held::No, "within a look, a miss costs no stat (a recompute at worst)");
        }
        std::thread::sleep(Duration::from_millis(FOLDER_LOOK_MS + 10));
        assert_eq!(b.held(&CacheKey([2; 32])), Held::Unsure, "after it, another process's file is looked for");
        assert_eq!(b.get(&CacheKey([2; 32])).unwrap(), big);
    }

    #[test]
    fn stays_under_cap_and_survives_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let big = vec![Value::Text("x".repeat(40_000).into())];
        let cache = DiskCache::open(tmp.path(), 100_000).unwrap();
        for n in 0..5u8 {
            cache.put(&CacheKey([n; 32]), &big).unwrap();
            assert!(cache.total_bytes() <= 100_000);
        }
        assert_eq!(cache.get(&CacheKey([4; 32])).unwrap(), big);
        let path = cache.path(&CacheKey([4; 32]));
        fs::write(&path, b"garbage").unwrap();
        assert!(cache.get(&CacheKey([4; 32])).is_none());
        assert!(!path.exists());
    }
}
