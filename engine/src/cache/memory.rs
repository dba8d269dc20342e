//! The in-memory LRU, bounded by bytes rather than entries. Entries sit in one slab, linked
//! by `u32` positions from most to least recently used and found through a table of
//! positions: a million small entries cost a third of what boxed list nodes in a map did.

use std::sync::Arc;

use hashbrown::HashTable;

use super::CacheKey;
use super::slab::{NONE, Slab, hash};
use crate::value::Value;

/// What an entry costs beyond its values' bytes: its slot (key, values, size, two links), its
/// table position (up to two buckets of a position and a control byte), and (for several
/// values) the list's shared header.
pub const ENTRY_OVERHEAD_BYTES: usize = std::mem::size_of::<Slot>() + 2 * 5 + 16;

/// One entry, or a free slot (no values).
struct Slot {
    key: CacheKey,
    values: Option<Held>,
    size: usize,
    newer: u32,
    older: u32,
}

/// An entry's values. Most nodes have one output: it is kept in the slot itself, since the
/// shared list would be an allocation of its own per entry (values are handles to shared
/// buffers, so a copy of one is cheap).
enum Held {
    One(Value),
    Many(Arc<[Value]>),
}

impl Held {
    fn of(values: Arc<[Value]>) -> Self {
        match &*values {
            [one] => Held::One(one.clone()),
            _ => Held::Many(values),
        }
    }

    fn values(&self) -> Arc<[Value]> {
        match self {
            Held::One(one) => Arc::new([one.clone()]),
            Held::Many(values) => Arc::clone(values),
        }
    }
}

/// An LRU of node outputs holding at most `budget_bytes`.
pub struct MemoryCache {
    slots: Slab<Slot>,
    free: Vec<u32>,
    table: HashTable<u32>,
    /// Most and least recently used.
    newest: u32,
    oldest: u32,
    bytes: usize,
    budget_bytes: usize,
}

impl MemoryCache {
    /// An empty cache with a byte budget.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            slots: Slab::default(),
            free: Vec::new(),
            table: HashTable::new(),
            newest: NONE,
            oldest: NONE,
            bytes: 0,
            budget_bytes,
        }
    }

    fn find(&self, key: &CacheKey) -> Option<u32> {
        self.table.find(hash(key), |&at| self.slots[at].key == *key).copied()
    }

    /// Looks up and marks as recently used.
    pub fn get(&mut self, key: &CacheKey) -> Option<Arc<[Value]>> {
        let at = self.find(key)?;
        self.unlink(at);
        self.link_newest(at);
        self.slots[at].values.as_ref().map(Held::values)
    }

    /// Inserts, evicting least-recently-used entries to stay in budget. Returns how many were evicted.
    /// An entry larger than the whole budget is not kept.
    pub fn put(&mut self, key: CacheKey, values: Arc<[Value]>) -> u64 {
        let size = values.iter().map(Value::byte_size).sum::<usize>() + ENTRY_OVERHEAD_BYTES;
        if size > self.budget_bytes {
            return 0;
        }
        match self.find(&key) {
            Some(at) => {
                let slot = &mut self.slots[at];
                self.bytes -= std::mem::replace(&mut slot.size, size);
                slot.values = Some(Held::of(values));
                self.unlink(at);
                self.link_newest(at);
            }
            None => {
                let held = Some(Held::of(values));
                let Some(at) = self.store(Slot { key, values: held, size, newer: NONE, older: NONE }) else {
                    return 0;
                };
                let slots = &self.slots;
                self.table.insert_unique(hash(&key), at, |&p| hash(&slots[p].key));
                self.link_newest(at);
            }
        }
        self.bytes += size;
        let mut evicted = 0;
        while self.bytes > self.budget_bytes && self.oldest != NONE {
            self.evict(self.oldest);
            evicted += 1;
        }
        evicted
    }

    /// Puts a slot in a free place; `None` past `u32` positions (far beyond any byte budget).
    fn store(&mut self, slot: Slot) -> Option<u32> {
        if let Some(at) = self.free.pop() {
            self.slots[at] = slot;
            return Some(at);
        }
        self.slots.push(slot)
    }

    fn evict(&mut self, at: u32) {
        self.unlink(at);
        let key = self.slots[at].key;
        if let Ok(found) = self.table.find_entry(hash(&key), |&p| p == at) {
            found.remove();
        }
        let slot = &mut self.slots[at];
        slot.values = None;
        self.bytes -= std::mem::take(&mut slot.size);
        self.free.push(at);
    }

    fn unlink(&mut self, at: u32) {
        let Slot { newer, older, .. } = self.slots[at];
        match newer {
            NONE => self.newest = older,
            n => self.slots[n].older = older,
        }
        match older {
            NONE => self.oldest = newer,
            o => self.slots[o].newer = newer,
        }
    }

    fn link_newest(&mut self, at: u32) {
        let was = self.newest;
        let slot = &mut self.slots[at];
        (slot.newer, slot.older) = (NONE, was);
        match was {
            NONE => self.oldest = at,
            w => self.slots[w].newer = at,
        }
        self.newest = at;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
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

    /// The slab against a plain model of an LRU: the same entries kept, in the same order.
    #[test]
    fn behaves_as_a_least_recently_used_list_under_any_mix_of_calls() {
        let one = std::mem::size_of::<Value>() + ENTRY_OVERHEAD_BYTES;
        let mut c = MemoryCache::new(one * 5);
        let mut model: Vec<u8> = Vec::new(); // oldest first
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let k = (state % 9) as u8;
            if state.is_multiple_of(3) {
                let hit = c.get(&key(k)).is_some();
                assert_eq!(hit, model.contains(&k));
                if hit {
                    model.retain(|&m| m != k);
                    model.push(k);
                }
            } else {
                c.put(key(k), vec![Value::Int(k.into())].into());
                model.retain(|&m| m != k);
                model.push(k);
                if model.len() > 5 {
                    model.remove(0);
                }
            }
            assert_eq!(c.len(), model.len());
            assert_eq!(c.bytes(), one * model.len());
        }
        for k in &model {
            assert_eq!(c.get(&key(*k)).as_deref(), Some(&[Value::Int((*k).into())][..]));
        }
    }

    #[test]
    fn entries_of_none_one_or_several_values_come_back_as_put() {
        let mut c = MemoryCache::new(1 << 20);
        let lists: [Vec<Value>; 3] =
            [vec![], vec![Value::Int(7)], vec![Value::Float(0.5), Value::Text("a".into()), Value::Bool(true)]];
        for (n, values) in lists.iter().enumerate() {
            c.put(key(n as u8), values.clone().into());
        }
        for (n, values) in lists.iter().enumerate() {
            assert_eq!(c.get(&key(n as u8)).as_deref(), Some(&values[..]), "{} values", values.len());
        }
    }

    #[test]
    fn oversized_entry_is_not_kept() {
        let mut c = MemoryCache::new(100);
        c.put(key(1), text(1000));
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }
}
