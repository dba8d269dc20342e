//! The runtime graph: validated nodes, typed params and resolved wires, ready to execute.

use std::sync::Arc;

use petgraph::graph::DiGraph;

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
    /// Checked param values, defaults filled in, in spec order (params driven by a wire are absent).
    pub params: Vec<(&'static str, ParamValue)>,
    /// Wired inputs.
    pub inputs: Vec<InputBinding>,
    /// Params driven by wires.
    pub param_inputs: Vec<ParamBinding>,
    /// Placement preferences from the file (cloud-capable nodes only).
    pub placement: Placement,
    /// Draft or final, from the file.
    pub quality: Quality,
}

impl GraphNode {
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
    /// The DAG over node indices; an edge per distinct upstream-downstream pair.
    pub dag: DiGraph<usize, ()>,
    pub(crate) dependants: Vec<Vec<usize>>,
    /// Distinct upstream nodes of each node.
    pub(crate) dependencies: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds a graph from nodes already in topological order.
    pub(crate) fn from_sorted(name: String, nodes: Vec<GraphNode>) -> Self {
        let mut dag = DiGraph::with_capacity(nodes.len(), nodes.len());
        for i in 0..nodes.len() {
            dag.add_node(i);
        }
        let mut dependants = vec![Vec::new(); nodes.len()];
        let mut dependencies = Vec::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let mut ups: Vec<usize> = node.upstream().collect();
            ups.sort_unstable();
            ups.dedup();
            for &u in &ups {
                dependants[u].push(i);
                dag.add_edge(petgraph::graph::NodeIndex::new(u), petgraph::graph::NodeIndex::new(i), ());
            }
            dependencies.push(ups);
        }
        Self { name, run: Default::default(), nodes, dag, dependants, dependencies }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
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
                stack.extend(self.dependencies[i].iter().copied());
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
