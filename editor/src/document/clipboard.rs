//! Copy and paste: selected nodes travel as a workflow file (the wires among them kept), so
//! they paste into this graph, another open graph, or another editor through the system
//! clipboard's text.

use std::collections::{BTreeSet, HashMap};

use egui_snarl::{InPinId, NodeId, OutPinId};
use switchyard_engine::Registry;
use switchyard_engine::format::{InputRef, WorkflowFile};

use crate::document::convert::{OpenError, from_file, to_file};
use crate::document::model::Doc;

/// The most nodes one paste adds.
pub const PASTE_NODES_MAX: usize = 2_000;

/// The nodes `ids` as a file of their own: their entries, positions and the wires between
/// them (wires from nodes left behind are dropped).
pub fn copy(doc: &Doc, registry: &Registry, ids: &[NodeId]) -> Option<WorkflowFile> {
    let keys: BTreeSet<String> = ids.iter().filter_map(|id| doc.snarl.get_node(*id)).map(|n| n.key.clone()).collect();
    if keys.is_empty() {
        return None;
    }
    let mut file = to_file(doc, registry);
    file.nodes.retain(|k, _| keys.contains(k));
    let inside = |w: &String| w.rsplit_once('.').is_some_and(|(n, _)| keys.contains(n));
    for entry in file.nodes.values_mut() {
        for wires in entry.inputs.values_mut() {
            if let InputRef::Many(list) = wires {
                list.retain(inside);
            }
        }
        entry.inputs.retain(|_, w| !w.sources().is_empty() && w.sources().iter().all(inside));
    }
    if let Some(ui) = file.ui.as_mut() {
        // Groups and reroute points name nodes left behind; only positions travel.
        ui.retain(|k, _| k == "nodes");
    }
    if let Some(nodes) = file.ui.as_mut().and_then(|u| u.get_mut("nodes")).and_then(|n| n.as_object_mut()) {
        nodes.retain(|k, _| keys.contains(k));
    }
    file.run = None;
    Some(file)
}

/// Why a paste added nothing.
#[derive(Debug, thiserror::Error)]
pub enum PasteError {
    /// The clipboard holds no workflow.
    #[error("the clipboard holds no Switchyard nodes (copy nodes with Ctrl+C first)")]
    NotNodes,
    /// Too many nodes at once.
    #[error("the clipboard holds {0} nodes; at most {PASTE_NODES_MAX} paste at once")]
    TooMany(usize),
    /// The nodes do not fit this build.
    #[error("{0}")]
    Open(#[from] OpenError),
}

/// Reads a clipboard's text as copied nodes.
pub fn parse(text: &str) -> Result<WorkflowFile, PasteError> {
    let parsed = switchyard_engine::format::parse_workflow(text);
    parsed.file.filter(|f| !f.nodes.is_empty()).ok_or(PasteError::NotNodes)
}

/// Adds `file`'s nodes to `doc`, moved by `offset`, each under a key not used yet, with the
/// wires among them. Returns the new nodes.
pub fn paste(
    doc: &mut Doc,
    registry: &Registry,
    file: &WorkflowFile,
    offset: egui::Vec2,
) -> Result<Vec<NodeId>, PasteError> {
    if file.nodes.len() > PASTE_NODES_MAX {
        return Err(PasteError::TooMany(file.nodes.len()));
    }
    let part = from_file(file, registry)?;
    let mut made: HashMap<NodeId, NodeId> = HashMap::new();
    let mut nodes: Vec<(NodeId, egui::Pos2, crate::document::model::EdNode)> =
        part.snarl.nodes_pos_ids().map(|(id, pos, n)| (id, pos, n.clone())).collect();
    nodes.sort_by_key(|(_, _, n)| n.seq);
    for (old, pos, mut node) in nodes {
        node.key = doc.fresh_key(&node.key);
        node.seq = doc.next_seq;
        doc.next_seq += 1;
        made.insert(old, doc.snarl.insert_node(pos + offset, node));
    }
    for (o, i) in part.snarl.wires() {
        let (Some(&from), Some(&to)) = (made.get(&o.node), made.get(&i.node)) else { continue };
        doc.snarl.connect(OutPinId { node: from, output: o.output }, InPinId { node: to, input: i.input });
    }
    Ok(made.into_values().collect())
}
