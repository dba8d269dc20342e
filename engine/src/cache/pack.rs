//! Small entries packed into append-only segment files: a 49-byte integer costs one append
//! to an open file instead of a file (and an inode) of its own. Each process appends to a
//! segment of its own, so processes sharing a cache folder never interleave records; the
//! index is read from every segment when the cache opens. A record is a tag, the key, the
//! length and the codec's bytes (which carry their own checksum); a torn tail ends a
//! segment's scan, and a damaged record reads as a miss.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::CacheKey;
use super::slab::KeyMap;

/// An entry whose encoding is at most this goes into a segment; larger ones get a file.
pub const SMALL_MAX_BYTES: usize = 16 << 10;
/// Appended records wait in memory up to this many bytes, then go out in one write (a
/// write per record woke the run's other threads a thousand times on a 1,000-node graph).
const BUFFER_BYTES: usize = 64 << 10;
/// A segment is closed for appends past this size (or an eighth of the cache's cap, if
/// smaller, so eviction can always free space), and a new one started.
const SEGMENT_MAX_BYTES: u64 = 64 << 20;
/// The most segments read when the cache opens; a guard on a huge or foreign folder.
const SEGMENTS_MAX: usize = 4_096;
const TAG: &[u8; 4] = b"SYP1";
const HEADER_BYTES: usize = 4 + 32 + 4;

/// Where one record's bytes lie: 12 bytes, since the index may hold a million (a segment
/// is at most 64 MiB, so offsets fit; records past 4 GiB in a foreign file are not read).
#[derive(Clone, Copy)]
struct Loc {
    segment: u32,
    offset: u32,
    len: u32,
}

/// One segment file, opened for reads.
struct Segment {
    path: PathBuf,
    file: File,
    bytes: u64,
    /// Whether this process has touched its time since opening (once is enough for LRU).
    touched: bool,
}

/// This process's segment, open for appends.
struct Writer {
    /// Records appended but not yet written, starting at file offset `at - pending.len()`.
    pending: Vec<u8>,
    segment: usize,
    file: File,
    at: u64,
}

#[derive(Default)]
struct State {
    segments: Vec<Option<Segment>>,
    index: KeyMap<Loc>,
    writer: Option<Writer>,
}

/// The packed store of small entries in one folder.
pub struct Pack {
    dir: PathBuf,
    segment_max_bytes: u64,
    state: Mutex<State>,
}

impl Pack {
    /// Opens (creating) the folder and indexes every segment in it, for a cache capped at
    /// `cap_bytes`.
    pub fn open(dir: PathBuf, cap_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let mut state = State::default();
        for path in segment_paths(&dir)? {
            let Ok(mut file) = File::open(&path) else { continue };
            let mut data = Vec::new();
            file.read_to_end(&mut data)?;
            let Ok(segment) = u32::try_from(state.segments.len()) else { break };
            for_each_record(&data, |key, offset, len| {
                if let Ok(offset) = u32::try_from(offset) {
                    state.index.insert(key, Loc { segment, offset, len });
                }
            });
            state.segments.push(Some(Segment { path, file, bytes: data.len() as u64, touched: false }));
        }
        let segment_max_bytes = (cap_bytes / 8).clamp(1, SEGMENT_MAX_BYTES);
        Ok(Self { dir, segment_max_bytes, state: Mutex::new(state) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        super::lock(&self.state)
    }

    /// The encoded bytes of `key`'s record, if packed.
    pub fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let mut state = self.lock();
        let loc = state.index.get(key)?;
        if let Some(bytes) = state.writer.as_ref().and_then(|w| w.pending_bytes(loc)) {
            return Some(bytes);
        }
        let segment = state.segments.get_mut(loc.segment as usize)?.as_mut()?;
        let mut bytes = vec![0; loc.len as usize];
        if segment.file.read_exact_at(&mut bytes, u64::from(loc.offset)).is_err() {
            state.index.remove(key);
            return None;
        }
        if !segment.touched {
            // Eviction drops the least recently used segments first.
            segment.touched = true;
            let _best_effort = segment.file.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    /// Whether `key` is packed (from the index alone).
    pub fn contains(&self, key: &CacheKey) -> bool {
        self.lock().index.contains_key(key)
    }

    /// Forgets `key` (its record failed its checksum).
    pub fn forget(&self, key: &CacheKey) {
        self.lock().index.remove(key);
    }

    /// Writes out the records still in memory (also done when the buffer fills, when a
    /// segment closes and on drop).
    pub fn flush(&self) -> io::Result<()> {
        match self.lock().writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Appends `encoded` under `key` (buffered; see [`Pack::flush`]).
    pub fn put(&self, key: &CacheKey, encoded: &[u8]) -> io::Result<()> {
        let len = u32::try_from(encoded.len()).map_err(|_| io::Error::other("entry too large to pack"))?;
        let record_bytes = (HEADER_BYTES + encoded.len()) as u64;
        let mut state = self.lock();
        let full = state.writer.as_ref().is_none_or(|w| w.at >= self.segment_max_bytes);
        if full {
            if let Some(w) = state.writer.as_mut() {
                w.flush()?;
            }
            state.writer = Some(self.new_segment(&mut state)?);
        }
        let Some(writer) = state.writer.as_mut() else { return Err(io::Error::other("no segment")) };
        for part in [&TAG[..], &key.0, &len.to_le_bytes(), encoded] {
            writer.pending.extend_from_slice(part);
        }
        let (segment, offset) = (writer.segment, writer.at + HEADER_BYTES as u64);
        writer.at += record_bytes;
        if writer.pending.len() >= BUFFER_BYTES {
            writer.flush()?;
        }
        if let Some(Some(s)) = state.segments.get_mut(segment) {
            s.bytes += record_bytes;
        }
        let (Ok(segment), Ok(offset)) = (u32::try_from(segment), u32::try_from(offset)) else {
            return Err(io::Error::other("segment past its size limit"));
        };
        state.index.insert(*key, Loc { segment, offset, len });
        Ok(())
    }

    fn new_segment(&self, state: &mut State) -> io::Result<Writer> {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = self.dir.join(format!("{nanos:032}-{}.pack", std::process::id()));
        let file = File::options().create_new(true).append(true).open(&path)?;
        let read = File::open(&path)?;
        let segment = state.segments.len();
        state.segments.push(Some(Segment { path, file: read, bytes: 0, touched: true }));
        Ok(Writer { pending: Vec::new(), segment, file, at: 0 })
    }

    /// Bytes in all segments.
    pub fn total_bytes(&self) -> u64 {
        self.lock().segments.iter().flatten().map(|s| s.bytes).sum()
    }

    /// Every segment but the one being appended to, with its size and last use, for eviction.
    pub fn segments(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let state = self.lock();
        let writing = state.writer.as_ref().map(|w| w.segment);
        let open = state.segments.iter().enumerate().filter(|(i, _)| Some(*i) != writing);
        let last_use = |s: &Segment| s.file.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
        open.filter_map(|(_, s)| s.as_ref()).map(|s| (s.path.clone(), s.bytes, last_use(s))).collect()
    }

    /// Removes segment `path` and every entry in it. Returns the bytes freed.
    pub fn remove_segment(&self, path: &Path) -> u64 {
        let mut state = self.lock();
        let Some(i) = state.segments.iter().position(|s| s.as_ref().is_some_and(|s| s.path == path)) else {
            return 0;
        };
        if fs::remove_file(path).is_err() {
            return 0;
        }
        let bytes = state.segments[i].take().map_or(0, |s| s.bytes);
        state.index.retain(|loc| loc.segment as usize != i);
        bytes
    }
}

impl Writer {
    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    /// A record's bytes while they are still in memory.
    fn pending_bytes(&self, loc: Loc) -> Option<Vec<u8>> {
        let start = self.at - self.pending.len() as u64;
        let offset = u64::from(loc.offset);
        if loc.segment as usize != self.segment || offset < start {
            return None;
        }
        let from = usize::try_from(offset - start).ok()?;
        self.pending.get(from..from + loc.len as usize).map(<[u8]>::to_vec)
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "could not write the last cache entries; they will be made again");
        }
    }
}

fn segment_paths(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)?.take(SEGMENTS_MAX) {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "pack") {
            paths.push(path);
        }
    }
    // Oldest first (names start with the creation time), so a later record of a key wins.
    paths.sort();
    Ok(paths)
}

/// Calls `each(key, offset, len)` for the records in a segment's bytes, up to the first that
/// is torn or not a record.
fn for_each_record(data: &[u8], mut each: impl FnMut(CacheKey, u64, u32)) {
    let mut at = 0usize;
    while let Some(header) = data.get(at..at + HEADER_BYTES) {
        if &header[..4] != TAG {
            break;
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&header[4..36]);
        let len = u32::from_le_bytes([header[36], header[37], header[38], header[39]]);
        let start = at + HEADER_BYTES;
        let Some(end) = start.checked_add(len as usize).filter(|end| *end <= data.len()) else { break };
        each(CacheKey(key), start as u64, len);
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A segment is a file anyone could damage: any bytes scan without a panic, and every
        /// record found lies inside them.
        #[test]
        fn any_bytes_scan_to_records_inside_them(data in proptest::collection::vec(any::<u8>(), 0..512), tagged in any::<bool>()) {
            let mut data = data;
            if tagged && data.len() >= HEADER_BYTES {
                data[..4].copy_from_slice(TAG);
                let half = ((data.len() - HEADER_BYTES) as u32 / 2).to_le_bytes();
                data[36..40].copy_from_slice(&half);
            }
            let mut inside = true;
            for_each_record(&data, |_, offset, len| inside &= offset as usize + len as usize <= data.len());
            prop_assert!(inside);
        }
    }

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let pack = Pack::open(tmp.path().to_path_buf(), 1 << 20).unwrap();
        pack.put(&CacheKey([1; 32]), b"one").unwrap();
        pack.put(&CacheKey([2; 32]), b"two").unwrap();
        pack.put(&CacheKey([1; 32]), b"uno").unwrap();
        assert_eq!(pack.get(&CacheKey([1; 32])).as_deref(), Some(&b"uno"[..]), "the later record wins");
        drop(pack);
        let segment = segment_paths(tmp.path()).unwrap().remove(0);
        let mut f = File::options().append(true).open(&segment).unwrap();
        f.write_all(b"SYP1 half a record").unwrap();
        let pack = Pack::open(tmp.path().to_path_buf(), 1 << 20).unwrap();
        assert_eq!(pack.get(&CacheKey([1; 32])).as_deref(), Some(&b"uno"[..]));
        assert_eq!(pack.get(&CacheKey([2; 32])).as_deref(), Some(&b"two"[..]));
        assert!(pack.get(&CacheKey([3; 32])).is_none());
        pack.put(&CacheKey([3; 32]), b"three").unwrap();
        assert_eq!(segment_paths(tmp.path()).unwrap().len(), 2, "a second process writes its own segment");
        let freed = pack.remove_segment(&segment);
        assert!(freed > 0);
        assert!(pack.get(&CacheKey([1; 32])).is_none(), "entries leave with their segment");
        assert_eq!(pack.get(&CacheKey([3; 32])).as_deref(), Some(&b"three"[..]));
    }
}
