//! Reroute points: dots that carry a wire along a path the user chooses. They are the
//! editor's alone: the file's nodes hold the direct wire, and `ui.reroutes` holds each
//! point's position, what feeds it (`from`: an output `node.port` or another point) and the
//! inputs it feeds (`to`: `node.input`). The engine, the quote and the run never see them.

use std::collections::{HashMap, HashSet};

use egui::{Pos2, pos2};
use egui_snarl::{InPinId, NodeId, OutPinId, Snarl};
use serde_json::{Map, Value, json};
use switchyard_engine::{PortType, Registry};

use crate::document::model::{Doc, EdNode, spec_of};

/// The type name that marks a reroute point on the canvas (never a node type in the file).
pub const REROUTE: &str = "reroute";
/// The most reroute points a file may hold; more are dropped on opening.
pub const MAX_REROUTES: usize = 1024;

impl EdNode {
    /// Whether this is a reroute point rather than a workflow node.
    pub fn is_reroute(&self) -> bool {
        self.type_name == REROUTE
    }
}

/// The workflow output that `out` carries: `out` itself, or, for a reroute point's output,
/// the output wired into the point, followed through chains of points. `None` for a point
/// nothing feeds.
pub fn real_source(snarl: &Snarl<EdNode>, out: OutPinId) -> Option<OutPinId> {
    let mut at = out;
    for _ in 0..=snarl.nodes().count() {
        if !snarl.get_node(at.node)?.is_reroute() {
            return Some(at);
        }
        at = *snarl.in_pin(InPinId { node: at.node, input: 0 }).remotes.first()?;
    }
    None
}

/// The workflow inputs that reroute point `point` feeds, through further points.
pub fn real_targets(snarl: &Snarl<EdNode>, point: NodeId) -> Vec<InPinId> {
    let (mut found, mut stack, mut seen) = (Vec::new(), vec![point], HashSet::new());
    while let Some(p) = stack.pop() {
        if !seen.insert(p) {
            continue;
        }
        for i in snarl.out_pin(OutPinId { node: p, output: 0 }).remotes {
            match snarl.get_node(i.node) {
                Some(n) if n.is_reroute() => stack.push(i.node),
                Some(_) => found.push(i),
                None => {}
            }
        }
    }
    found
}

/// The type `out` carries, if known (a point nothing feeds carries no type yet).
pub fn out_type(snarl: &Snarl<EdNode>, registry: &Registry, out: OutPinId) -> Option<PortType> {
    let real = real_source(snarl, out)?;
    let spec = spec_of(registry, snarl.get_node(real.node)?)?;
    spec.outputs.get(real.output).map(|o| o.ty)
}

impl Doc {
    /// Adds a reroute point at `pos`, keyed `key` unless that is taken.
    pub fn add_reroute(&mut self, key: &str, pos: Pos2) -> NodeId {
        let key = self.fresh_key(key);
        let node = EdNode::reroute(key, self.next_seq);
        self.next_seq += 1;
        self.snarl.insert_node(pos, node)
    }

    /// Removes reroute point `point`, joining what fed it to what it fed, so no wire is lost.
    pub fn remove_reroute(&mut self, point: NodeId) {
        let from = self.snarl.in_pin(InPinId { node: point, input: 0 }).remotes.first().copied();
        let to = self.snarl.out_pin(OutPinId { node: point, output: 0 }).remotes;
        self.snarl.remove_node(point);
        if let Some(from) = from {
            for i in to {
                self.snarl.connect(from, i);
            }
        }
    }
}

impl EdNode {
    fn reroute(key: String, seq: u64) -> Self {
        Self {
            key,
            type_name: REROUTE.into(),
            params: Default::default(),
            param_wires: Vec::new(),
            placement: None,
            quality: None,
            requires: None,
            mode: Default::default(),
            list_order: Default::default(),
            seq,
        }
    }
}

/// The `ui.reroutes` section for the points on the canvas (`None` when there are none).
pub fn to_ui(doc: &Doc, registry: &Registry) -> Option<Value> {
    let mut out = Map::new();
    let mut points: Vec<(NodeId, Pos2, &EdNode)> =
        doc.snarl.nodes_pos_ids().filter(|(_, _, n)| n.is_reroute()).collect();
    points.sort_by_key(|(_, _, n)| n.seq);
    for (id, pos, n) in points {
        let mut entry = Map::new();
        entry.insert("pos".into(), json!([pos.x.round() as i64, pos.y.round() as i64]));
        if let Some(from) = doc.snarl.in_pin(InPinId { node: id, input: 0 }).remotes.first() {
            let name = match doc.snarl.get_node(from.node) {
                Some(src) if src.is_reroute() => Some(src.key.clone()),
                Some(src) => spec_of(registry, src)
                    .and_then(|s| s.outputs.get(from.output))
                    .map(|o| format!("{}.{}", src.key, o.name)),
                None => None,
            };
            if let Some(name) = name {
                entry.insert("from".into(), Value::String(name));
            }
        }
        let to: Vec<Value> = doc
            .snarl
            .out_pin(OutPinId { node: id, output: 0 })
            .remotes
            .iter()
            .filter_map(|i| input_name(doc, registry, *i))
            .map(Value::String)
            .collect();
        if !to.is_empty() {
            entry.insert("to".into(), Value::Array(to));
        }
        out.insert(n.key.clone(), Value::Object(entry));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn input_name(doc: &Doc, registry: &Registry, pin: InPinId) -> Option<String> {
    let n = doc.snarl.get_node(pin.node)?;
    if n.is_reroute() {
        return None;
    }
    let port = n.in_port(spec_of(registry, n)?, pin.input)?;
    Some(format!("{}.{}", n.key, port.name))
}

/// Puts the points of a file's `ui.reroutes` on the canvas, once the file's nodes and wires
/// are there: each point is wired from what feeds it, and each input it feeds is moved from
/// the direct wire onto the point. An entry that no longer matches the wires (the file was
/// edited by hand) leaves the direct wire as it is.
pub fn from_ui(doc: &mut Doc, registry: &Registry, value: Option<Value>) {
    let Some(Value::Object(entries)) = value else { return };
    let mut points: HashMap<String, NodeId> = HashMap::new();
    for (key, entry) in entries.iter().take(MAX_REROUTES) {
        let p = entry.get("pos").and_then(Value::as_array);
        let xy = p.and_then(|p| Some(pos2(p.first()?.as_f64()? as f32, p.get(1)?.as_f64()? as f32)));
        let id = doc.add_reroute(key, xy.filter(|p| p.is_finite()).unwrap_or(Pos2::ZERO));
        points.insert(key.clone(), id);
    }
    let field = |key: &String, name: &str| entries.get(key).and_then(|e| e.get(name)).cloned();
    for (key, &id) in &points {
        let Some(from) = field(key, "from").and_then(|v| v.as_str().map(str::to_string)) else { continue };
        let src = match points.get(&from) {
            Some(&point) => Some(OutPinId { node: point, output: 0 }),
            None => output_pin(doc, registry, &from),
        };
        if let Some(src) = src.filter(|s| s.node != id) {
            doc.snarl.connect(src, InPinId { node: id, input: 0 });
        }
    }
    for (key, &id) in &points {
        let Some(Value::Array(to)) = field(key, "to") else { continue };
        let carried = real_source(&doc.snarl, OutPinId { node: id, output: 0 });
        let targets: Vec<InPinId> =
            to.iter().filter_map(Value::as_str).filter_map(|t| input_pin(doc, registry, t)).collect();
        for target in targets {
            let wired = doc.snarl.in_pin(target).remotes;
            match carried {
                Some(real) if wired.contains(&real) => {
                    doc.snarl.disconnect(real, target);
                }
                None if wired.is_empty() => {}
                _ => continue,
            }
            doc.snarl.connect(OutPinId { node: id, output: 0 }, target);
        }
    }
}

fn output_pin(doc: &Doc, registry: &Registry, name: &str) -> Option<OutPinId> {
    let (key, port) = name.rsplit_once('.')?;
    let node = doc.find(key)?;
    let n = doc.snarl.get_node(node).filter(|n| !n.is_reroute())?;
    let output = spec_of(registry, n)?.outputs.iter().position(|o| o.name == port)?;
    Some(OutPinId { node, output })
}

fn input_pin(doc: &Doc, registry: &Registry, name: &str) -> Option<InPinId> {
    let (key, input) = name.rsplit_once('.')?;
    let node = doc.find(key)?;
    let n = doc.snarl.get_node(node).filter(|n| !n.is_reroute())?;
    let spec = spec_of(registry, n)?;
    let index = n.input_index(spec, input)?;
    Some(InPinId { node, input: index })
}
