//! The runtime graph: validated nodes, typed params and resolved wires, ready to execute.

use std::sync::Arc;

use crate::format::{Placement, Quality};
use crate::ids::NodeId;
use crate::node::Node;
use crate::params::ParamValue;

/// Where a wire comes from: a node index and one of its output port indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// Index of the upstream node in [`Graph::nodes`].
    pub node: usize,
    /// Index of the output port in the upstream node's spec.
    pub output: usize,
}

/// The wires feeding one input port.
#[derive(Clone, Debug)]
pub struct InputBinding {
    /// The input port.
    pub port: &'static str,
    /// Its sources, in the file's order.
    pub sources: Vec<Source>,
}

/// A param driven by an upstream value instead of a widget value.
#[derive(Clone, Debug)]
pub struct ParamBinding {
    /// The param.
    pub param: &'static str,
    /// Its source.
    pub source: Source,
}

/// One node of the runtime graph.
#[derive(Clone)]
pub struct GraphNode {
    /// The node id from the file.
    pub id: NodeId,
    /// The implementation.
    pub node: Arc<dyn Node>,
    /// Checked param values, defaults filled in, in spec order (params driven by a wire are
    /// absent). Boxed slices here and below: a million nodes hold no spare capacity fields.
    pub params: Box<[(&'static str, ParamValue)]>,
    /// Wired inputs.
    pub inputs: Box<[InputBinding]>,
    /// Params driven by wires.
    pub param_inputs: Box<[ParamBinding]>,
    /// Placement preferences from the file (cloud-capable nodes only); boxed, since most
    /// nodes have none and a large graph holds a million of these.
    pub placement: Option<Box<Placement>>,
    /// Draft or final, from the file.
    pub quality: Quality,
}

impl GraphNode {
    /// Its placement preferences: the file's, or none.
    pub fn placement(&self) -> &Placement {
        static NONE: Placement = Placement::NONE;
        self.placement.as_deref().unwrap_or(&NONE)
    }

    /// Every upstream node index, with repeats.
    pub fn upstream(&self) -> impl Iterator<Item = usize> + '_ {
        let wires = self.inputs.iter().flat_map(|b| b.sources.iter());
        wires.chain(self.param_inputs.iter().map(|p| &p.source)).map(|s| s.node)
    }
}

/// A validated, acyclic workflow.
#[derive(Clone)]
pub struct Graph {
    /// The workflow's name.
    pub name: String,
    /// The file's run settings: defaults for policy, budget, deadline and routes.
    pub run: crate::format::RunSettings,
    /// Nodes, in topological order: every node comes after all of its inputs.
    pub nodes: Vec<GraphNode>,
    /// Distinct downstream nodes of each node.
    pub(crate) dependants: Adjacency,
    /// Distinct upstream nodes of each node.
    pub(crate) dependencies: Adjacency,
}

/// A list of node indices per node, flattened into two arrays (a million-node graph holds
/// two allocations here, not two million).
#[derive(Clone, Debug, Default)]
pub(crate) struct Adjacency {
    /// Where each node's list starts in `items`; one more entry than nodes.
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl Adjacency {
    /// The list of node `i`.
    pub(crate) fn of(&self, i: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        let (from, to) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        self.items[from..to].iter().map(|&n| n as usize)
    }

    /// How many nodes each node's list holds.
    pub(crate) fn counts(&self) -> impl Iterator<Item = u32> + '_ {
        self.starts.windows(2).map(|w| w[1] - w[0])
    }

    /// The same edges the other way round: for each node, the nodes whose lists hold it.
    fn reversed(&self) -> Adjacency {
        let n = self.starts.len().saturating_sub(1);
        let mut starts = vec![0u32; n + 1];
        for &to in &self.items {
            starts[to as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut items = vec![0u32; self.items.len()];
        for from in 0..n {
            for to in self.of(from) {
                items[next[to] as usize] = from as u32;
                next[to] += 1;
            }
        }
        Adjacency { starts, items }
    }
}

impl Graph {
    /// Builds a graph from nodes already in topological order. Indices are held as `u32`:
    /// a graph is read from a file of at most 64 MiB, so it has far fewer nodes than that.
    pub(crate) fn from_sorted(name: String, nodes: Vec<GraphNode>) -> Self {
        // Sized for every wire up front: growing by doubling touched twice the memory.
        let items = Vec::with_capacity(nodes.iter().map(|n| n.upstream().count()).sum());
        let mut dependencies = Adjacency { starts: Vec::with_capacity(nodes.len() + 1), items };
        dependencies.starts.push(0);
        let mut ups = Vec::new();
        for node in &nodes {
            ups.clear();
            ups.extend(node.upstream().map(|u| u as u32));
            ups.sort_unstable();
            ups.dedup();
            dependencies.items.extend_from_slice(&ups);
            dependencies.starts.push(dependencies.items.len() as u32);
        }
        let dependants = dependencies.reversed();
        Self { name, run: Default::default(), nodes, dependants, dependencies }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether any node writes outside the engine (saves a file): only those can carry the
    /// workflow's provenance.
    pub fn has_side_effects(&self) -> bool {
        self.nodes.iter().any(|n| n.node.spec().side_effects)
    }

    /// The index of a node by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id.as_str() == id)
    }
}

/// What [`Graph::prune`] left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pruned {
    /// The nodes left out, in graph order.
    pub nodes: Vec<NodeId>,
}

impl Graph {
    /// The graph cut down to what `outputs` need: those nodes and everything upstream of
    /// them, as ComfyUI runs only what leads to an output. With no `outputs` named, the
    /// outputs are the nodes with side effects (saves); a graph with none of those is kept
    /// whole. An unknown name is an error naming the nearest id.
    pub fn prune(self, outputs: &[String]) -> Result<(Graph, Pruned), String> {
        let mut wanted = Vec::with_capacity(outputs.len());
        for name in outputs {
            let Some(i) = self.index_of(name) else {
                let ids = self.nodes.iter().map(|n| n.id.as_str());
                let hint = crate::registry::nearest(name, ids).map(|n| format!("; did you mean {n:?}?"));
                return Err(format!("--only {name:?}: no such node{}", hint.unwrap_or_default()));
            };
            wanted.push(i);
        }
        if wanted.is_empty() {
            wanted = (0..self.len()).filter(|&i| self.nodes[i].node.spec().side_effects).collect();
        }
        if wanted.is_empty() {
            return Ok((self, Pruned::default()));
        }
        let mut keep = vec![false; self.len()];
        let mut stack = wanted;
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut keep[i], true) {
                stack.extend(self.dependencies.of(i));
            }
        }
        if keep.iter().all(|k| *k) {
            return Ok((self, Pruned::default()));
        }
        let Graph { name, run, nodes, .. } = self;
        let mut new_index = vec![usize::MAX; nodes.len()];
        let (mut kept, mut pruned) = (Vec::new(), Pruned::default());
        for (i, node) in nodes.into_iter().enumerate() {
            if !keep[i] {
                pruned.nodes.push(node.id);
                continue;
            }
            new_index[i] = kept.len();
            kept.push(node);
        }
        // Kept nodes only read from kept nodes (everything upstream of a kept node is kept).
        for node in &mut kept {
            for s in node.inputs.iter_mut().flat_map(|b| b.sources.iter_mut()) {
                s.node = new_index[s.node];
            }
            for p in &mut node.param_inputs {
                p.source.node = new_index[p.source.node];
            }
        }
        let mut graph = Graph::from_sorted(name, kept);
        graph.run = run;
        Ok((graph, pruned))
    }
}
