//! The explicit registry of node types. Built by the caller, passed by value: no globals.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::node::{Node, NodeSpec};

/// The node types a run, a validation or a catalog knows.
#[derive(Clone, Default)]
pub struct Registry {
    nodes: BTreeMap<&'static str, Arc<dyn Node>>,
}

/// A node type was registered twice.
#[derive(Debug, thiserror::Error)]
#[error("node type {0:?} is already registered")]
pub struct DuplicateNodeType(pub &'static str);

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node type.
    pub fn register(&mut self, node: impl Node) -> Result<(), DuplicateNodeType> {
        self.register_arc(Arc::new(node))
    }

    /// Adds a shared node type.
    pub fn register_arc(&mut self, node: Arc<dyn Node>) -> Result<(), DuplicateNodeType> {
        let name = node.spec().type_name;
        if self.nodes.contains_key(name) {
            return Err(DuplicateNodeType(name));
        }
        self.nodes.insert(name, node);
        Ok(())
    }

    /// Looks up a node type.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn Node>> {
        self.nodes.get(type_name)
    }

    /// Every spec, sorted by type name.
    pub fn specs(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.values().map(|n| n.spec())
    }

    /// Number of node types.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node type is registered.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The registered type name nearest to a misspelt one, if any is close.
    pub fn suggest(&self, type_name: &str) -> Option<&'static str> {
        nearest(type_name, self.nodes.keys().copied())
    }
}

/// The candidate nearest to `word`, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
