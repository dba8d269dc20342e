//! Outputs by content: when a run ends, the files it wrote move into a content-addressed
//! store (`outputs/ab/abcdef…`, blake3), and the run's output index names them. Identical
//! files are kept once. The store is an interface so that an object store can replace the
//! folder later.

use std::io;
use std::path::{Path, PathBuf};

/// Where output bytes are kept.
pub(crate) trait OutputStore: Send + Sync {
    /// Takes the file at `path` into the store (it is moved, or dropped when the store
    /// already holds the same bytes); returns its hash and size.
    fn put(&self, path: &Path) -> io::Result<(String, u64)>;
    /// The local file holding `hash`, if the store has it.
    fn local_path(&self, hash: &str) -> Option<PathBuf>;
}

/// A folder of files named by their blake3 hash.
pub(crate) struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub(crate) fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn file(&self, hash: &str) -> PathBuf {
        self.root.join(&hash[..2]).join(hash)
    }
}

/// Whether `text` is a blake3 hex digest (so it is safe as a file name).
pub(crate) fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The blake3 hash and size of a file, read in chunks.
pub(crate) fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    let bytes = io::copy(&mut file, &mut hasher)?;
    Ok((hasher.finalize().to_hex().to_string(), bytes))
}

impl OutputStore for DirStore {
    fn put(&self, path: &Path) -> io::Result<(String, u64)> {
        let (hash, bytes) = hash_file(path)?;
        let target = self.file(&hash);
        if target.exists() {
            std::fs::remove_file(path)?;
        } else {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(path, &target)?;
        }
        Ok((hash, bytes))
    }

    fn local_path(&self, hash: &str) -> Option<PathBuf> {
        is_hash(hash).then(|| self.file(hash)).filter(|p| p.is_file())
    }
}

/// The media type of an output, from its extension.
pub(crate) fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        "bmp" => "image/bmp",
        "exr" => "image/x-exr",
        "mp4" => "video/mp4",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "json" => "application/json",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// What part of a file a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// All of it.
    Whole,
    /// Bytes `start..=end`.
    Range(u64, u64),
    /// A range that cannot be satisfied (416).
    Unsatisfiable,
}

/// Resolves a `Range` header against the file's size. Malformed headers are unsatisfiable;
/// a list of ranges is served whole, as RFC 9110 allows.
pub fn byte_range(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Wanted::Whole };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let number = |t: &str| t.trim().parse::<u64>().ok();
    let Some((first, last)) = spec.split_once('-') else { return Wanted::Unsatisfiable };
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => number(last).filter(|n| *n > 0 && size > 0).map(|n| (size.saturating_sub(n), size - 1)),
        (false, true) => number(first).map(|s| (s, size.saturating_sub(1))),
        (false, false) => number(first).zip(number(last)).map(|(s, e)| (s, e.min(size.saturating_sub(1)))),
        (true, true) => None,
    };
    match range {
        Some((start, end)) if start <= end && start < size => Wanted::Range(start, end),
        _ => Wanted::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_resolve_against_the_size() {
        use Wanted::{Range, Unsatisfiable, Whole};
        let cases = [
            (None, Whole),
            (Some("bytes=0-99"), Range(0, 99)),
            (Some("bytes=100-"), Range(100, 999)),
            (Some("bytes=-100"), Range(900, 999)),
            (Some("bytes=-5000"), Range(0, 999)),
            (Some("bytes=990-5000"), Range(990, 999)),
            (Some("bytes=1000-"), Unsatisfiable),
            (Some("bytes=5-1"), Unsatisfiable),
            (Some("bytes=x-1"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=-"), Unsatisfiable),
            (Some("bytes=0-1,5-9"), Whole),
        ];
        for (header, want) in cases {
            assert_eq!(byte_range(header, 1000), want, "{header:?}");
        }
    }

    #[test]
    fn the_store_keeps_identical_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().join("outputs")).unwrap();
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        std::fs::write(&a, b"same bytes").unwrap();
        std::fs::write(&b, b"same bytes").unwrap();
        let (ha, na) = store.put(&a).unwrap();
        let (hb, _) = store.put(&b).unwrap();
        assert_eq!((ha.clone(), na), (hb, 10));
        assert!(!a.exists() && !b.exists(), "moved into the store");
        assert_eq!(std::fs::read(store.local_path(&ha).unwrap()).unwrap(), b"same bytes");
        assert!(store.local_path("../../etc/passwd").is_none());
    }
}
