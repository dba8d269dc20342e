//! Node ids to their index in file order: a table of `u32` indices into the id list, which
//! holds a million ids in a fifth of the memory a map of `&str` to `usize` takes.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::ids::NodeId;

/// A list of node ids in file order: the parse tree's keys, or the ids a streaming read
/// made (indexed where they are, so a million ids are not listed a second time).
#[derive(Clone, Copy)]
pub(super) enum Ids<'a> {
    Text(&'a [&'a str]),
    Node(&'a [NodeId]),
}

impl<'a> Ids<'a> {
    pub(super) fn get(self, i: usize) -> &'a str {
        match self {
            Ids::Text(ids) => ids[i],
            Ids::Node(ids) => ids[i].as_str(),
        }
    }

    pub(super) fn len(self) -> usize {
        match self {
            Ids::Text(ids) => ids.len(),
            Ids::Node(ids) => ids.len(),
        }
    }

    pub(super) fn iter(self) -> impl Iterator<Item = &'a str> {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Where each id of a list sits in it.
pub(super) struct IdIndex {
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl IdIndex {
    /// The index of `ids`, or `None` when an id repeats. Ids are counted in `u32`: a file
    /// of at most 64 MiB holds far fewer nodes.
    pub(super) fn new(ids: Ids) -> Option<Self> {
        let hasher = foldhash::fast::RandomState::default();
        let mut table = HashTable::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let hash = hasher.hash_one(id);
            let entry = table.entry(
                hash,
                |&j: &u32| ids.get(j as usize) == id,
                |&j: &u32| hasher.hash_one(ids.get(j as usize)),
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(_) => return None,
                hashbrown::hash_table::Entry::Vacant(slot) => drop(slot.insert(u32::try_from(i).ok()?)),
            }
        }
        Some(Self { table, hasher })
    }

    /// Where `id` sits in `ids` (the list the index was made from).
    pub(super) fn get(&self, ids: Ids, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |&j| ids.get(j as usize) == id).map(|&j| j as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_refuses_a_repeat() {
        let ids: Vec<String> = (0..5000).map(|i| format!("n{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let node_ids: Vec<NodeId> = refs.iter().map(|id| NodeId::new(id)).collect();
        for list in [Ids::Text(&refs), Ids::Node(&node_ids)] {
            let index = IdIndex::new(list).unwrap();
            assert!(refs.iter().enumerate().all(|(i, id)| index.get(list, id) == Some(i)));
            assert_eq!(index.get(list, "n5000"), None);
        }
        assert!(IdIndex::new(Ids::Text(&["a", "b", "a"])).is_none());
        let repeated = [NodeId::new("a"), NodeId::new("a")];
        assert!(IdIndex::new(Ids::Node(&repeated)).is_none());
    }
}
