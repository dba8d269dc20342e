//! Paid results kept by content. A provider's result is written here the moment it arrives,
//! before anything local (decoding, writing a file) can fail, keyed by everything that
//! shapes the request (endpoint, model, every portable param, the input image's bytes). An
//! unchanged request is then served from here without calling the provider, so re-running a
//! graph, or re-running it after fixing a local failure, never pays twice. Images, video
//! and audio alike: the bytes are kept as the provider sent them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::ask::Ask;

/// The most one kept result may be (the largest download is 64 MiB by default).
const KEPT_RESULT_MAX_BYTES: u64 = 1 << 30;
/// The most a record's header line may be.
const HEADER_MAX_BYTES: u64 = 64 << 10;

/// A result as it was paid for.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    /// The provider's bytes.
    pub bytes: Vec<u8>,
    /// Their media type.
    pub media_type: String,
    /// The call's record as it was first reported.
    pub record: switchyard_engine::CallRecord,
}

/// Where paid results are kept; `None` keeps nothing (`--no-disk-cache`).
#[derive(Clone, Debug, Default)]
pub struct KeptResults {
    dir: Option<PathBuf>,
}

/// The key of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeptKey(blake3::Hash);

impl KeptKey {
    /// The key for `ask` sent to `model` at `base_url`.
    pub fn of(base_url: &str, provider: &str, model: &str, ask: &Ask) -> Self {
        let mut h = blake3::Hasher::new();
        let mut field = |name: &str, value: &[u8]| {
            h.update(name.as_bytes());
            h.update(&(value.len() as u64).to_le_bytes());
            h.update(value);
        };
        field("v", b"1");
        field("base_url", base_url.as_bytes());
        field("provider", provider.as_bytes());
        field("model", model.as_bytes());
        field("capability", ask.capability.name().as_bytes());
        field("prompt", ask.prompt.as_bytes());
        field("negative", format!("{:?}", ask.negative_prompt).as_bytes());
        field("size", format!("{}x{}", ask.width, ask.height).as_bytes());
        field("seed", format!("{:?}", ask.seed).as_bytes());
        field("steps", format!("{:?}", ask.steps).as_bytes());
        field("quality", format!("{:?}", ask.quality).as_bytes());
        field("strength", format!("{:?}", ask.strength.map(f64::to_bits)).as_bytes());
        field("scale", format!("{:?}", ask.scale).as_bytes());
        field("duration_s", format!("{:?}", ask.duration_s).as_bytes());
        field("voice", format!("{:?}", ask.voice).as_bytes());
        let image = ask.image.as_deref().map(blake3::hash);
        field("image", image.as_ref().map_or(&b"none"[..], |h| h.as_bytes()));
        Self(h.finalize())
    }
}

impl KeptResults {
    /// Keeps results under `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: Some(dir.into()) }
    }

    /// Keeps results in `dir`, else in switchyard/paid in the user's cache folder (nothing
    /// when there is none).
    pub fn at_or_default(dir: Option<PathBuf>) -> Self {
        Self { dir: dir.or_else(|| dirs::cache_dir().map(|d| d.join("switchyard").join("paid"))) }
    }

    /// Keeps nothing.
    pub fn none() -> Self {
        Self { dir: None }
    }

    fn path(&self, key: KeptKey) -> Option<PathBuf> {
        let hex = key.0.to_hex();
        Some(self.dir.as_ref()?.join(&hex[..2]).join(format!("{hex}.kept")))
    }

    /// Whether a result is kept for `key` (a quote's question: the file is not read).
    pub fn contains(&self, key: KeptKey) -> bool {
        self.path(key).is_some_and(|p| p.metadata().is_ok_and(|m| m.is_file() && m.len() > 0))
    }

    /// The kept result for `key`, if one is kept and reads back whole.
    pub fn get(&self, key: KeptKey) -> Option<Kept> {
        let path = self.path(key)?;
        match read(&path) {
            Ok(kept) => Some(kept),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "a kept result is unreadable; calling the provider");
                None
            }
        }
    }

    /// Keeps `kept` under `key` (written to a temporary file, then renamed, so a crash never
    /// leaves half a result). Failing to keep is logged: the result itself is still used.
    pub fn put(&self, key: KeptKey, kept: &Kept) {
        let Some(path) = self.path(key) else { return };
        if let Err(e) = write(&path, kept) {
            tracing::warn!(path = %path.display(), error = %e, "cannot keep a paid result; a re-run would pay again");
        }
    }
}

fn write(path: &Path, kept: &Kept) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("no folder"))?;
    std::fs::create_dir_all(dir)?;
    let header = serde_json::json!({ "media_type": kept.media_type, "record": kept.record });
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    writeln!(tmp, "{header}")?;
    tmp.write_all(&kept.bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn read(path: &Path) -> std::io::Result<Kept> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() > KEPT_RESULT_MAX_BYTES + HEADER_MAX_BYTES {
        return Err(bad("larger than a kept result may be"));
    }
    let mut data = Vec::new();
    file.take(KEPT_RESULT_MAX_BYTES + HEADER_MAX_BYTES).read_to_end(&mut data)?;
    let end = data.iter().take(HEADER_MAX_BYTES as usize).position(|b| *b == b'\n').ok_or_else(|| bad("no header"))?;
    let header: serde_json::Value = serde_json::from_slice(&data[..end]).map_err(|_| bad("header is not JSON"))?;
    let media_type = header["media_type"].as_str().ok_or_else(|| bad("no media type"))?.to_string();
    let record =
        header.get("record").and_then(switchyard_engine::CallRecord::of).ok_or_else(|| bad("no call record"))?;
    data.drain(..=end);
    Ok(Kept { bytes: data, media_type, record })
}

#[cfg(test)]
mod tests {
    use super::super::ask::Capability;
    use super::*;

    #[test]
    fn a_kept_result_reads_back_and_any_change_to_the_request_misses() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeptResults::at(dir.path());
        let ask = Ask::new(Capability::ImageToVideo, "a fox", 1280, 720);
        let key = KeptKey::of("http://x", "runway", "gen4_turbo", &ask);
        let kept = Kept {
            bytes: vec![0, 1, 2, b'\n', 255],
            media_type: "video/mp4".into(),
            record: switchyard_engine::CallRecord { task_id: Some("t1".into()), ..Default::default() },
        };
        assert_eq!(store.get(key), None);
        store.put(key, &kept);
        assert_eq!(store.get(key), Some(kept));
        let mut other = ask.clone();
        other.duration_s = Some(10);
        assert_ne!(KeptKey::of("http://x", "runway", "gen4_turbo", &other), key);
        assert_ne!(KeptKey::of("http://y", "runway", "gen4_turbo", &ask), key, "another endpoint");
        let mut image = ask.clone();
        image.image = Some(vec![1u8, 2, 3].into());
        assert_ne!(KeptKey::of("http://x", "runway", "gen4_turbo", &image), key);
        assert_eq!(KeptResults::none().get(key), None);
    }
}
