//! Compiling straight from a file's text. A well-formed, valid file is read in two streaming
//! passes (ids and types, then one node entry at a time, each checked and dropped), so a
//! million-node graph never holds its whole parse tree. Anything else (a problem of any
//! kind, a bypassed or muted node) goes the way of [`super::load_workflow`], which reports
//! every problem; both ways run the same checks, so they build the same graph.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{
    CompileOptions, FastMap, IdIndex, Ids, Lookup, check_input_paths, check_node, load_counted, too_large,
    valid_node_id,
};
use crate::diagnostics::Diagnostics;
use crate::format::{MAX_FILE_BYTES, Override, Requires, set_param, stream};
use crate::graph::Graph;
use crate::ids::NodeId;
use crate::node::Node;
use crate::registry::Registry;

/// Reads, overrides and validates a workflow's text into a graph, keeping no parse tree.
pub fn compile_text(
    text: &str,
    registry: &Registry,
    overrides: &[Override],
    opts: &CompileOptions,
) -> Result<Graph, Diagnostics> {
    match streamed(text, registry, overrides, opts) {
        Streamed::Graph(graph) => Ok(*graph),
        Streamed::TooLarge(count) => Err(Diagnostics::from(too_large(count, opts.max_nodes))),
        // The skim has counted already: the full read need not skim again.
        Streamed::Fallback => load_counted(text, registry, overrides, opts).map(|(_, graph)| graph),
    }
}

/// How many nodes of a well-formed file would run (muted and bypassed ones left out; an
/// entry the skim cannot place counts), read without building anything: the node limit is
/// checked on this before a file is parsed, so an oversized file costs a skim, and its other
/// problems are not reported until it fits.
pub(super) fn running_nodes(text: &str) -> Option<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut running = 0usize;
    stream::skim(text, |_, _, mode| {
        running += usize::from(mode.is_always());
        true
    })?;
    Some(running)
}

/// The fewest bytes a node takes in a file: `"a":{"type":"b"},`.
const MIN_NODE_BYTES: usize = 17;

/// What the streaming read made of a file.
enum Streamed {
    Graph(Box<Graph>),
    /// More running nodes than the limit: refused before any node's body is read.
    TooLarge(usize),
    /// A problem, or nodes that need the whole tree: read the full way.
    Fallback,
}

/// The graph of a valid file read in two streaming passes, or `None` where the file has a
/// problem or needs the whole tree (bypassed or muted nodes); [`compile_text`] then reads it
/// the full way.
pub fn compile_streamed(
    text: &str,
    registry: &Registry,
    overrides: &[Override],
    opts: &CompileOptions,
) -> Option<Graph> {
    match streamed(text, registry, overrides, opts) {
        Streamed::Graph(graph) => Some(*graph),
        Streamed::TooLarge(_) | Streamed::Fallback => None,
    }
}

fn streamed(text: &str, registry: &Registry, overrides: &[Override], opts: &CompileOptions) -> Streamed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_FILE_BYTES {
        return Streamed::Fallback;
    }
    // Sized once for the most nodes the text can hold and the limit lets through: growing by
    // doubling copied a million ids and touched twice their memory. Capacity never written
    // costs no memory.
    let most = (text.len() / MIN_NODE_BYTES + 1).min(opts.max_nodes);
    let mut ids: Vec<NodeId> = Vec::with_capacity(most);
    let mut impls: Vec<Option<&Arc<dyn Node>>> = Vec::with_capacity(most);
    let (mut running, mut plain) = (0usize, true);
    // Counting goes on past a problem, so an oversized file is refused without a full read.
    let skimmed = stream::skim(text, |id, type_name, mode| {
        running += usize::from(mode.is_always());
        let imp = registry.get(type_name);
        plain &= running <= opts.max_nodes && mode.is_always() && valid_node_id(id) && imp.is_some();
        if plain {
            ids.push(NodeId::new(id));
            impls.push(imp);
        }
        true
    });
    match skimmed {
        Some(_) if running > opts.max_nodes => Streamed::TooLarge(running),
        Some(header) if plain => compile_skimmed(text, header, ids, impls, registry, overrides, opts)
            .map_or(Streamed::Fallback, |g| Streamed::Graph(Box::new(g))),
        _ => Streamed::Fallback,
    }
}

/// The second pass: each node's entry read, checked and turned into its graph node.
fn compile_skimmed(
    text: &str,
    header: stream::Header,
    ids: Vec<NodeId>,
    impls: Vec<Option<&Arc<dyn Node>>>,
    registry: &Registry,
    overrides: &[Override],
    opts: &CompileOptions,
) -> Option<Graph> {
    let index = IdIndex::new(Ids::Node(&ids))?;
    let mut wanted: FastMap<usize, Vec<&Override>> = FastMap::default();
    for o in overrides {
        wanted.entry(index.get(Ids::Node(&ids), &o.node)?).or_default().push(o);
    }
    let broken = BTreeSet::new();
    let lookup = Lookup { ids: Ids::Node(&ids), index: &index, impls: &impls, broken: &broken };
    let mut nodes = Vec::with_capacity(ids.len());
    let mut requires: Vec<(usize, Requires)> = Vec::new();
    let mut diagnostics = Diagnostics::default();
    let read = stream::entries(text, |id, mut entry| {
        let at = nodes.len();
        let (Some(expected), Some(Some(imp))) = (ids.get(at), impls.get(at)) else { return false };
        if expected.as_str() != id {
            return false;
        }
        for o in wanted.get(&at).into_iter().flatten() {
            set_param(&mut entry, o, registry);
        }
        nodes.push(check_node(&lookup, expected.clone(), &entry, imp, &mut diagnostics));
        if let Some(r) = entry.requires {
            requires.push((at, r));
        }
        diagnostics.is_empty()
    });
    if !read || nodes.len() != ids.len() {
        return None;
    }
    if let Some((base, roots)) = &opts.inputs {
        check_input_paths(&nodes, base, roots, &mut diagnostics);
    }
    let union = Requires::union(requires.iter().map(|(at, r)| (ids[*at].as_str(), r)));
    if !diagnostics.is_empty() || union.is_err() {
        return None;
    }
    // The nodes hold their ids now: the lists and the index go before the order is found,
    // the point where a large graph's compile holds the most.
    let count = ids.len();
    drop((index, ids, impls, wanted));
    let order = super::topological_order(&nodes, count, None).ok()?;
    let mut graph = Graph::from_sorted(header.name, super::reorder(nodes, &order));
    graph.run = header.run.unwrap_or_default();
    Some(graph)
}
