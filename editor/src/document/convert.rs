//! The workflow file to the canvas and back. Positions live in `ui.nodes.<id>.pos`; every
//! other part of `ui` is carried through untouched.

use std::collections::{BTreeMap, HashMap};

use egui::{Pos2, pos2};
use egui_snarl::{InPinId, OutPinId};
use serde_json::{Value, json};
use switchyard_engine::Registry;
use switchyard_engine::format::{FileMap, InputRef, NodeEntry, WorkflowFile};

use crate::document::model::{Doc, EdNode, spec_of};

/// Why a file cannot be shown on the canvas.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum OpenError {
    /// A node's type is not in the registry.
    #[error("node {node:?}: unknown node type {type_name:?}; the palette lists the types this build knows")]
    UnknownType {
        /// The node.
        node: String,
        /// Its type.
        type_name: String,
    },
    /// A wire names a node or port that does not exist.
    #[error("node {node:?}, input {input:?}: wire {wire:?} names no output of a node in this file")]
    BadWire {
        /// The node.
        node: String,
        /// The input.
        input: String,
        /// The wire as written.
        wire: String,
    },
}

/// Builds the canvas from a parsed file. Nodes without a saved position are laid out by depth.
pub fn from_file(file: &WorkflowFile, registry: &Registry) -> Result<Doc, OpenError> {
    let mut ui_rest = file.ui.clone().unwrap_or_default();
    let saved = saved_positions(ui_rest.remove("nodes"));
    let groups = crate::document::groups::from_ui(ui_rest.remove("groups"));
    let reroutes = ui_rest.remove("reroutes");
    let fallback = layout_by_depth(file);
    let run = file.run.clone().unwrap_or_default();
    let mut doc =
        Doc { name: file.name.clone(), description: file.description.clone(), run, groups, ui_rest, ..Doc::default() };
    let mut ids = HashMap::new();
    for (key, entry) in &file.nodes {
        let spec = registry
            .get(&entry.type_name)
            .map(|n| n.spec())
            .ok_or_else(|| OpenError::UnknownType { node: key.clone(), type_name: entry.type_name.clone() })?;
        let mut node = EdNode::new(key.clone(), spec, doc.next_seq);
        doc.next_seq += 1;
        node.params = entry.params.clone();
        node.placement = entry.placement.clone();
        node.quality = entry.quality;
        node.requires = entry.requires.clone();
        node.mode = entry.mode;
        for (input, wires) in &entry.inputs {
            if spec.inputs.iter().all(|i| i.name != input) {
                node.param_wires.push(input.clone());
            }
            if let InputRef::Many(list) = wires {
                node.list_order.insert(input.clone(), list.clone());
            }
        }
        let pos = saved.get(key).or_else(|| fallback.get(key)).copied().unwrap_or(Pos2::ZERO);
        ids.insert(key.as_str(), doc.snarl.insert_node(pos, node));
    }
    for (key, entry) in &file.nodes {
        for (input, wires) in &entry.inputs {
            for wire in wires.sources() {
                let bad = || OpenError::BadWire { node: key.clone(), input: input.clone(), wire: wire.clone() };
                let (from, to) = wire_pins(&doc, registry, &ids, (key, input), wire).ok_or_else(bad)?;
                doc.snarl.connect(from, to);
            }
        }
    }
    crate::document::reroute::from_ui(&mut doc, registry, reroutes);
    Ok(doc)
}

fn wire_pins(
    doc: &Doc,
    registry: &Registry,
    ids: &HashMap<&str, egui_snarl::NodeId>,
    (key, input): (&str, &str),
    wire: &str,
) -> Option<(OutPinId, InPinId)> {
    let (src, port) = wire.rsplit_once('.')?;
    let src_id = *ids.get(src)?;
    let src_spec = spec_of(registry, doc.snarl.get_node(src_id)?)?;
    let output = src_spec.outputs.iter().position(|o| o.name == port)?;
    let dst_id = *ids.get(key)?;
    let dst = doc.snarl.get_node(dst_id)?;
    let spec = spec_of(registry, dst)?;
    let index = dst.input_index(spec, input)?;
    Some((OutPinId { node: src_id, output }, InPinId { node: dst_id, input: index }))
}

fn saved_positions(nodes: Option<Value>) -> HashMap<String, Pos2> {
    let Some(Value::Object(nodes)) = nodes else { return HashMap::new() };
    let pos = |v: &Value| {
        let p = v.get("pos")?.as_array()?;
        Some(pos2(p.first()?.as_f64()? as f32, p.get(1)?.as_f64()? as f32))
    };
    nodes.iter().filter_map(|(k, v)| Some((k.clone(), pos(v)?))).collect()
}

/// Columns by longest path from a source; rows in file order.
fn layout_by_depth(file: &WorkflowFile) -> HashMap<String, Pos2> {
    let mut depth: HashMap<&str, usize> = HashMap::new();
    // Files are usually in dependency order; a few passes settle the rest (bounded by size).
    for _ in 0..file.nodes.len().min(64) {
        let mut changed = false;
        for (key, entry) in &file.nodes {
            let d = entry
                .inputs
                .values()
                .flat_map(InputRef::sources)
                .filter_map(|w| w.rsplit_once('.').and_then(|(n, _)| depth.get(n)).map(|d| d + 1))
                .max()
                .unwrap_or(0);
            if depth.insert(key, d) != Some(d) {
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut out = HashMap::new();
    for key in file.nodes.keys() {
        let col = depth.get(key.as_str()).copied().unwrap_or(0);
        let row = rows.entry(col).or_default();
        out.insert(key.clone(), pos2(col as f32 * 340.0, *row as f32 * 260.0));
        *row += 1;
    }
    out
}

/// The file for the canvas as it stands: nodes in creation order, wires by input.
pub fn to_file(doc: &Doc, registry: &Registry) -> WorkflowFile {
    let mut incoming: BTreeMap<InPinId, Vec<OutPinId>> = BTreeMap::new();
    for (from, to) in doc.snarl.wires() {
        incoming.entry(to).or_default().push(from);
    }
    let mut nodes: Vec<(egui_snarl::NodeId, Pos2, &EdNode)> =
        doc.snarl.nodes_pos_ids().filter(|(_, _, n)| !n.is_reroute()).collect();
    nodes.sort_by_key(|(_, _, n)| n.seq);
    let mut entries = FileMap::default();
    let mut positions = serde_json::Map::new();
    for (id, pos, node) in nodes {
        entries.insert(node.key.clone(), entry(doc, registry, id, node, &incoming));
        positions.insert(node.key.clone(), json!({ "pos": [pos.x.round() as i64, pos.y.round() as i64] }));
    }
    let mut ui = doc.ui_rest.clone();
    ui.insert("nodes".into(), Value::Object(positions));
    if !doc.groups.is_empty() {
        ui.insert("groups".into(), crate::document::groups::to_ui(&doc.groups));
    }
    if let Some(reroutes) = crate::document::reroute::to_ui(doc, registry) {
        ui.insert("reroutes".into(), reroutes);
    }
    WorkflowFile {
        format: switchyard_engine::format::FORMAT_NAME.into(),
        version: 1,
        name: doc.name.clone(),
        description: doc.description.clone(),
        nodes: entries,
        run: (!doc.run.is_empty()).then(|| doc.run.clone()),
        ui: Some(ui),
    }
}

fn entry(
    doc: &Doc,
    registry: &Registry,
    id: egui_snarl::NodeId,
    node: &EdNode,
    incoming: &BTreeMap<InPinId, Vec<OutPinId>>,
) -> NodeEntry {
    let mut inputs = FileMap::default();
    if let Some(spec) = spec_of(registry, node) {
        for index in 0..node.in_count(spec) {
            let Some(port) = node.in_port(spec, index) else { continue };
            let Some(froms) = incoming.get(&InPinId { node: id, input: index }) else { continue };
            let mut wires: Vec<String> = froms.iter().filter_map(|o| wire_name(doc, registry, *o)).collect();
            if port.max_sources > 1 {
                let order = node.list_order.get(port.name);
                let rank = |w: &String| order.and_then(|o| o.iter().position(|x| x == w)).unwrap_or(usize::MAX);
                wires.sort_by_key(rank);
                inputs.insert(port.name.to_string(), InputRef::Many(wires));
            } else if let Some(w) = wires.pop() {
                inputs.insert(port.name.to_string(), InputRef::One(w));
            }
        }
    }
    NodeEntry {
        type_name: node.type_name.clone(),
        params: node.params.clone(),
        inputs,
        placement: node.placement.clone(),
        quality: node.quality,
        requires: node.requires.clone(),
        mode: node.mode,
    }
}

/// The file's name for the output `out` carries, through any reroute points.
fn wire_name(doc: &Doc, registry: &Registry, out: OutPinId) -> Option<String> {
    let out = crate::document::reroute::real_source(&doc.snarl, out)?;
    let src = doc.snarl.get_node(out.node)?;
    let port = spec_of(registry, src)?.outputs.get(out.output)?;
    Some(format!("{}.{}", src.key, port.name))
}
