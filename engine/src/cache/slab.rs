//! Storage for a million small cache records: a slab that grows a chunk at a time, and a map
//! from keys to records kept as a table of `u32` positions into such a slab.

use hashbrown::HashTable;

use super::CacheKey;

/// Records a chunk of a slab holds.
const CHUNK: usize = 4096;

/// No position.
pub const NONE: u32 = u32::MAX;

/// Records in chunks of a fixed size: the slab grows a chunk at a time, never copying what
/// it holds nor keeping room it does not use (a doubling `Vec` of a million records kept up
/// to twice that, and three times while it moved).
pub struct Slab<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    /// Appends a record; `None` past `u32` positions.
    pub fn push(&mut self, record: T) -> Option<u32> {
        let at = u32::try_from(self.len).ok().filter(|&at| at != NONE)?;
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut()?.push(record);
        self.len += 1;
        Some(at)
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;

    fn index(&self, at: u32) -> &T {
        &self.chunks[at as usize / CHUNK][at as usize % CHUNK]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, at: u32) -> &mut T {
        &mut self.chunks[at as usize / CHUNK][at as usize % CHUNK]
    }
}

/// Keys are content hashes already: their first bytes hash them.
pub fn hash(key: &CacheKey) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&key.0[..8]);
    u64::from_le_bytes(first)
}

/// A map from cache keys to small `Copy` values: 4 bytes of table and the record a key
/// takes, where a `HashMap` kept each record in buckets half empty after growing.
pub struct KeyMap<V> {
    records: Slab<(CacheKey, V)>,
    free: Vec<u32>,
    table: HashTable<u32>,
}

impl<V: Copy> Default for KeyMap<V> {
    fn default() -> Self {
        Self { records: Slab::default(), free: Vec::new(), table: HashTable::new() }
    }
}

impl<V: Copy> KeyMap<V> {
    fn find(&self, key: &CacheKey) -> Option<u32> {
        self.table.find(hash(key), |&at| self.records[at].0 == *key).copied()
    }

    /// The value of `key`.
    pub fn get(&self, key: &CacheKey) -> Option<V> {
        self.find(key).map(|at| self.records[at].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &CacheKey) -> bool {
        self.find(key).is_some()
    }

    /// Sets `key`'s value; `false` past `u32` positions (the key is then not held).
    pub fn insert(&mut self, key: CacheKey, value: V) -> bool {
        if let Some(at) = self.find(&key) {
            self.records[at].1 = value;
            return true;
        }
        let at = match self.free.pop() {
            Some(at) => {
                self.records[at] = (key, value);
                at
            }
            None => match self.records.push((key, value)) {
                Some(at) => at,
                None => return false,
            },
        };
        let records = &self.records;
        self.table.insert_unique(hash(&key), at, |&p| hash(&records[p].0));
        true
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &CacheKey) {
        if let Ok(found) = self.table.find_entry(hash(key), |&at| self.records[at].0 == *key) {
            let (at, _) = found.remove();
            self.free.push(at);
        }
    }

    /// Keeps only the keys whose value passes `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        let (records, free) = (&self.records, &mut self.free);
        self.table.retain(|&mut at| {
            let kept = keep(&records[at].1);
            if !kept {
                free.push(at);
            }
            kept
        });
    }

    /// Keys held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The key map against a `HashMap` under a random mix of calls, across chunk boundaries.
    #[test]
    fn a_key_map_holds_what_a_hash_map_holds_under_any_mix_of_calls() {
        let mut map: KeyMap<u32> = KeyMap::default();
        let mut model: HashMap<CacheKey, u32> = HashMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..40_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut k = [0u8; 32];
            k[..2].copy_from_slice(&((state % 6_000) as u16).to_le_bytes());
            let key = CacheKey(k);
            match state % 7 {
                0 => {
                    map.remove(&key);
                    model.remove(&key);
                }
                1 => {
                    let odd = step % 2;
                    map.retain(|v| v % 97 != odd);
                    model.retain(|_, v| *v % 97 != odd);
                }
                2 => assert_eq!(map.get(&key), model.get(&key).copied()),
                _ => {
                    assert!(map.insert(key, step));
                    model.insert(key, step);
                }
            }
            assert_eq!(map.len(), model.len());
        }
        for (key, value) in &model {
            assert_eq!(map.get(key), Some(*value));
        }
    }
}
