//! A shared tier behind the disk store: entries that are costly to make (cloud calls, local
//! inference) are also kept where other machines find them (a farm's artifact store), so a
//! task that runs again on another machine reuses them instead of paying again. Its calls
//! block, as the disk store's do.

use super::CacheKey;

/// The largest entry shared, in bytes; bigger ones stay on this machine.
pub const SHARED_MAX_BYTES: usize = 64 << 20;

/// Where shared entries live.
pub trait SharedStore: Send + Sync {
    /// The entry's bytes (the disk store's encoding), or `None`.
    fn get(&self, key: &CacheKey) -> Option<Vec<u8>>;
    /// Keeps the entry, best effort.
    fn put(&self, key: &CacheKey, bytes: Vec<u8>);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::super::{Cache, DiskCache};
    use super::*;
    use crate::value::Value;

    #[derive(Default)]
    struct Shelf(Mutex<HashMap<CacheKey, Vec<u8>>>);

    impl SharedStore for Shelf {
        fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
            self.0.lock().ok()?.get(key).cloned()
        }
        fn put(&self, key: &CacheKey, bytes: Vec<u8>) {
            if let Ok(mut m) = self.0.lock() {
                m.insert(*key, bytes);
            }
        }
    }

    #[test]
    fn costly_entries_reach_another_machine_through_the_shared_tier_and_cheap_ones_do_not() {
        let shelf = Arc::new(Shelf::default());
        let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let machine = |dir: &std::path::Path| {
            Cache::with_disk(1 << 20, DiskCache::open(dir, 1 << 20).unwrap()).with_shared(shelf.clone())
        };
        let (a, b) = (machine(here.path()), machine(there.path()));
        let (paid, cheap) = (CacheKey([1; 32]), CacheKey([2; 32]));
        let values = vec![Value::Text("cut out".into()), Value::Int(7)];
        a.put_disk(&paid, &values, true);
        a.put_disk(&cheap, &values, false);
        assert_eq!(shelf.0.lock().unwrap().len(), 1, "only the costly entry is shared");
        assert_eq!(b.get_disk(&cheap, false).as_deref(), None, "a cheap entry is made again");
        assert_eq!(b.get_disk(&paid, true).as_deref(), Some(&values[..]), "the costly one is reused");
        shelf.0.lock().unwrap().clear();
        assert_eq!(b.get_disk(&paid, true).as_deref(), Some(&values[..]), "and kept on the other disk");
        shelf.0.lock().unwrap().insert(CacheKey([3; 32]), b"damaged".to_vec());
        assert_eq!(b.get_disk(&CacheKey([3; 32]), true).as_deref(), None, "a damaged entry is a miss");
    }
}
