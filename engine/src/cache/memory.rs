//! The in-memory LRU, bounded by bytes rather than entries.

use std::sync::Arc;

use lru::LruCache;

use super::CacheKey;
use crate::value::Value;

/// What an entry costs beyond its values' bytes: the LRU's node (key, value, two links),
/// its hash slot, the value list's shared header and the allocator's rounding. Measured: a
/// million one-integer entries took 224 MB more than none, where 40 MB had been charged.
pub const ENTRY_OVERHEAD_BYTES: usize = 192;

/// An LRU of node outputs holding at most `budget_bytes`.
pub struct MemoryCache {
    entries: LruCache<CacheKey, (Arc<[Value]>, usize), foldhash::fast::RandomState>,
    bytes: usize,
    budget_bytes: usize,
}

impl MemoryCache {
    /// An empty cache with a byte budget.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            entries: LruCache::unbounded_with_hasher(foldhash::fast::RandomState::default()),
            bytes: 0,
            budget_bytes,
        }
    }

    /// Looks up and marks as recently used.
    pub fn get(&mut self, key: &CacheKey) -> Option<Arc<[Value]>> {
        self.entries.get(key).map(|(v, _)| Arc::clone(v))
    }

    /// Inserts, evicting least-recently-used entries to stay in budget. Returns how many were evicted.
    /// An entry larger than the whole budget is not kept.
    pub fn put(&mut self, key: CacheKey, values: Arc<[Value]>) -> u64 {
        let size = values.iter().map(Value::byte_size).sum::<usize>() + ENTRY_OVERHEAD_BYTES;
        if size > self.budget_bytes {
            return 0;
        }
        if let Some((_, old)) = self.entries.put(key, (values, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
        let mut evicted = 0;
        while self.bytes > self.budget_bytes {
            let Some((_, (_, s))) = self.entries.pop_lru() else { break };
            self.bytes -= s;
            evicted += 1;
        }
        evicted
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    fn text(n: usize) -> Arc<[Value]> {
        vec![Value::Text("x".repeat(n).into())].into()
    }

    #[test]
    fn evicts_least_recently_used_to_stay_in_budget() {
        let one = text(1000);
        let entry = one.iter().map(Value::byte_size).sum::<usize>() + ENTRY_OVERHEAD_BYTES;
        let mut c = MemoryCache::new(entry * 2);
        c.put(key(1), Arc::clone(&one));
        c.put(key(2), text(1000));
        assert!(c.get(&key(1)).is_some()); // 1 is now the most recent
        assert_eq!(c.put(key(3), text(1000)), 1);
        assert!(c.get(&key(2)).is_none());
        assert!(c.get(&key(1)).is_some() && c.get(&key(3)).is_some());
        assert!(c.bytes() <= entry * 2);
    }

    #[test]
    fn small_entries_are_charged_their_bookkeeping_too() {
        // A million integers must not hold a hundred megabytes under a budget of a few.
        let budget = 64 * 1024;
        let mut c = MemoryCache::new(budget);
        for n in 0..10_000u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&n.to_le_bytes());
            c.put(CacheKey(k), vec![Value::Int(n.into())].into());
        }
        let per_entry = std::mem::size_of::<Value>() + ENTRY_OVERHEAD_BYTES;
        assert_eq!(c.len(), budget / per_entry);
    }

    #[test]
    fn oversized_entry_is_not_kept() {
        let mut c = MemoryCache::new(100);
        c.put(key(1), text(1000));
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }
}
