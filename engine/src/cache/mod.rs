//! The content-addressed output cache: memory first, then an optional disk store, then an
//! optional shared tier for costly entries.

mod codec;
mod disk;
mod memory;
mod pack;
mod shared;
mod slab;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use disk::{DiskCache, Held};
pub use memory::MemoryCache;
pub use shared::{SHARED_MAX_BYTES, SharedStore};

use crate::params::ParamValue;
use crate::value::Value;

/// A cache key: the hash of node type, version, params, fingerprint and input hashes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    /// Computes the key of one node run.
    pub fn compute(
        type_name: &str,
        version: u32,
        params: &[(&'static str, ParamValue)],
        input_hashes: &[blake3::Hash],
    ) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"switchyard.node.v1\0");
        h.update(type_name.as_bytes()).update(b"\0");
        h.update(&version.to_le_bytes());
        h.update(&(params.len() as u64).to_le_bytes());
        for (name, value) in params {
            h.update(name.as_bytes()).update(b"\0");
            value.hash_into(&mut h);
        }
        h.update(&(input_hashes.len() as u64).to_le_bytes());
        for ih in input_hashes {
            h.update(ih.as_bytes());
        }
        Self(*h.finalize().as_bytes())
    }

    /// This key combined with outside state a node reported, such as a loaded file's hash.
    pub fn with_fingerprint(&self, fingerprint: &blake3::Hash) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"switchyard.fingerprint.v1\0").update(&self.0).update(fingerprint.as_bytes());
        Self(*h.finalize().as_bytes())
    }

    /// The hash that stands for output port `index` of a deterministic node with this key,
    /// so downstream keys never need to hash pixel data. The key is already a uniform 256-bit
    /// hash, so tagging it with the index keeps outputs distinct without hashing again.
    pub fn output_hash(&self, index: usize) -> blake3::Hash {
        let mut bytes = self.0;
        let tag = (index as u64).wrapping_add(1).to_le_bytes();
        for (b, t) in bytes.iter_mut().zip(tag) {
            *b ^= t;
        }
        blake3::Hash::from_bytes(bytes)
    }

    /// The key as lowercase hex.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", &self.to_hex()[..16])
    }
}

/// Hits and misses, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Served from memory.
    pub memory_hits: u64,
    /// Served from disk.
    pub disk_hits: u64,
    /// Not found.
    pub misses: u64,
    /// Bytes held in memory now.
    pub memory_bytes: usize,
    /// Entries dropped from memory to stay in budget.
    pub evictions: u64,
}

/// Memory LRU with a byte budget, in front of an optional size-capped disk store.
pub struct Cache {
    memory: Mutex<MemoryCache>,
    disk: Option<DiskCache>,
    shared: Option<Arc<dyn SharedStore>>,
    counters: Counters,
}

/// Lock-free hit and miss counters.
#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// Writes an entry to this machine's disk store; a failure is logged (the entry will be made
/// again) and returns false.
fn put_local(disk: &DiskCache, key: &CacheKey, values: &[Value]) -> bool {
    match disk.put(key, values) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not write a cache entry to disk; continuing without it");
            false
        }
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Cache {
    /// A memory-only cache holding at most `budget_bytes`.
    pub fn memory(budget_bytes: usize) -> Self {
        Self {
            memory: Mutex::new(MemoryCache::new(budget_bytes)),
            disk: None,
            shared: None,
            counters: Counters::default(),
        }
    }

    /// A memory cache in front of a disk store.
    pub fn with_disk(budget_bytes: usize, disk: DiskCache) -> Self {
        Self { disk: Some(disk), ..Self::memory(budget_bytes) }
    }

    /// Adds a shared tier behind the disk store, for costly entries.
    pub fn with_shared(mut self, shared: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Whether a disk store or a shared tier is attached (lookups may block).
    pub fn has_disk(&self) -> bool {
        self.disk.is_some() || self.shared.is_some()
    }

    /// Looks in memory only; never blocks on I/O.
    pub fn get_memory(&self, key: &CacheKey) -> Option<Arc<[Value]>> {
        let hit = lock(&self.memory).get(key);
        if hit.is_some() {
            bump(&self.counters.memory_hits, 1);
        }
        hit
    }

    /// Looks on disk, then (for a costly entry, `shared`) in the shared tier, promoting a hit
    /// into memory (and a shared hit onto disk). Blocking I/O: call from a blocking thread.
    pub fn get_disk(&self, key: &CacheKey, shared: bool) -> Option<Arc<[Value]>> {
        let found = self.disk.as_ref().and_then(|d| d.get(key)).or_else(|| match shared {
            true => self.get_shared(key),
            false => None,
        });
        match found {
            Some(values) => Some(self.found_on_disk(key, values, true)),
            None => {
                bump(&self.counters.misses, 1);
                None
            }
        }
    }

    /// Counts a disk hit, keeping its values in memory too where `remember` (a packed entry
    /// is answered in place again, so memory need not hold it twice).
    fn found_on_disk(&self, key: &CacheKey, values: Vec<Value>, remember: bool) -> Arc<[Value]> {
        bump(&self.counters.disk_hits, 1);
        let values: Arc<[Value]> = values.into();
        if remember {
            self.put_memory(*key, Arc::clone(&values));
        }
        values
    }

    /// Answers a disk lookup in place when that needs no blocking I/O: `Some(found)` for a
    /// packed entry (a small read) or a key the store does not hold (no shared tier to ask),
    /// `None` when a file or the shared tier must be read on a blocking thread.
    pub fn get_disk_in_place(&self, key: &CacheKey, shared: bool) -> Option<Option<Arc<[Value]>>> {
        let disk = self.disk.as_ref()?;
        // A packed hit, a re-run's common case, takes one look at the index.
        if let Some(values) = disk.get_packed(key) {
            return Some(Some(self.found_on_disk(key, values, false)));
        }
        let asks_shared = shared && self.shared.is_some();
        match disk.held_unpacked(key) {
            disk::Held::File | disk::Held::Unsure | disk::Held::Packed => None,
            disk::Held::No if asks_shared => None,
            disk::Held::No => {
                bump(&self.counters.misses, 1);
                Some(None)
            }
        }
    }

    /// Stores on disk in place when that is a small append and no shared tier is involved:
    /// `Some(stored)` where it tried (a failed write is logged), `None` where the entry must
    /// go to disk from a blocking thread, or nowhere (no disk store).
    pub fn put_disk_in_place(&self, key: &CacheKey, values: &[Value], shared: bool) -> Option<bool> {
        let disk = self.disk.as_ref()?;
        if (shared && self.shared.is_some()) || !DiskCache::packs(values) {
            return None;
        }
        Some(put_local(disk, key, values))
    }

    /// Writes out disk entries still buffered in memory (packed small entries); the executor
    /// calls it when a run ends.
    pub fn flush(&self) {
        if let Some(d) = &self.disk
            && let Err(e) = d.flush()
        {
            tracing::warn!(error = %e, "could not write cache entries to disk; they will be made again");
        }
    }

    /// Counts a miss when no disk lookup follows.
    pub fn record_miss(&self) {
        bump(&self.counters.misses, 1);
    }

    /// Stores in memory.
    pub fn put_memory(&self, key: CacheKey, values: Arc<[Value]>) {
        let evicted = lock(&self.memory).put(key, values);
        bump(&self.counters.evictions, evicted);
    }

    fn get_shared(&self, key: &CacheKey) -> Option<Vec<Value>> {
        let values = codec::decode(&self.shared.as_ref()?.get(key)?)?;
        if let Some(d) = &self.disk {
            let _best_effort = d.put(key, &values);
        }
        Some(values)
    }

    /// Stores on disk, if a store is attached, and a costly entry (`shared`) in the shared
    /// tier too. Blocking I/O: call from a blocking thread.
    pub fn put_disk(&self, key: &CacheKey, values: &[Value], shared: bool) {
        if let Some(d) = &self.disk {
            put_local(d, key, values);
        }
        let Some(store) = self.shared.as_ref().filter(|_| shared) else { return };
        if values.iter().map(Value::byte_size).sum::<usize>() > SHARED_MAX_BYTES {
            return;
        }
        let mut bytes = Vec::new();
        if codec::encode_to(values, &mut bytes).is_ok() {
            store.put(key, bytes);
        }
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            memory_hits: read(&self.counters.memory_hits),
            disk_hits: read(&self.counters.disk_hits),
            misses: read(&self.counters.misses),
            memory_bytes: lock(&self.memory).bytes(),
            evictions: read(&self.counters.evictions),
        }
    }
}

/// Locks a mutex, recovering from poisoning: cache state stays consistent because every
/// critical section completes its updates before anything can panic.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
