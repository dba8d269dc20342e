//! The semantic diff of two workflows, node by node: nodes added or removed, params changed
//! (old -> new), wires changed, placement, quality and requirements changed, and nodes moved
//! on the canvas. The server's API, the CLI and the editor all show this one diff.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_engine::format::{NodeEntry, WorkflowFile};

/// One change from the old workflow to the new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The workflow's name changed.
    Renamed { old: String, new: String },
    /// Its description changed.
    Described { old: String, new: String },
    /// A node was added.
    Added { node: String, type_name: String },
    /// A node was removed.
    Removed { node: String, type_name: String },
    /// A node kept its id but changed type.
    Retyped { node: String, old: String, new: String },
    /// A param was set, changed or unset (back to its default).
    Param { node: String, param: String, old: Option<Value>, new: Option<Value> },
    /// An input was wired, rewired or unwired.
    Wire { node: String, input: String, old: Option<Value>, new: Option<Value> },
    /// Where the node may run changed.
    Placement { node: String, old: Option<Value>, new: Option<Value> },
    /// Draft or final changed.
    Quality { node: String, old: Option<Value>, new: Option<Value> },
    /// What a machine needs to run it changed.
    Requires { node: String, old: Option<Value>, new: Option<Value> },
    /// The node moved on the canvas.
    Moved { node: String, old: Option<[f64; 2]>, new: Option<[f64; 2]> },
    /// Another part of the layout (groups, notes) changed.
    Layout { key: String },
}

impl Change {
    /// The node the change is on, if it is on one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Change::Renamed { .. } | Change::Described { .. } | Change::Layout { .. } => None,
            Change::Added { node, .. }
            | Change::Removed { node, .. }
            | Change::Retyped { node, .. }
            | Change::Param { node, .. }
            | Change::Wire { node, .. }
            | Change::Placement { node, .. }
            | Change::Quality { node, .. }
            | Change::Requires { node, .. }
            | Change::Moved { node, .. } => Some(node),
        }
    }

    /// Whether the change is to the layout only.
    pub fn is_layout(&self) -> bool {
        matches!(self, Change::Moved { .. } | Change::Layout { .. })
    }
}

/// How a node is marked where a diff is drawn on the canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Added,
    Removed,
    Changed,
    Moved,
}

/// Every change from one workflow to another, in the new file's node order (removed nodes
/// last).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Diff {
    pub changes: Vec<Change>,
}

impl Diff {
    /// Whether the two were the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether every change is to the layout.
    pub fn layout_only(&self) -> bool {
        self.changes.iter().all(Change::is_layout)
    }

    /// Each touched node's mark: added, removed, changed, or only moved.
    pub fn marks(&self) -> BTreeMap<String, Mark> {
        let mut marks: BTreeMap<String, Mark> = BTreeMap::new();
        for c in &self.changes {
            let Some(node) = c.node() else { continue };
            let mark = match c {
                Change::Added { .. } => Mark::Added,
                Change::Removed { .. } => Mark::Removed,
                Change::Moved { .. } => Mark::Moved,
                _ => Mark::Changed,
            };
            let slot = marks.entry(node.to_string()).or_insert(mark);
            *slot = (*slot).min(mark);
        }
        marks
    }
}

fn show(v: &Option<Value>) -> String {
    v.as_ref().map_or_else(|| "(unset)".to_string(), Value::to_string)
}

fn show_pos(p: &Option<[f64; 2]>) -> String {
    p.map_or_else(|| "(none)".to_string(), |[x, y]| format!("({x}, {y})"))
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Renamed { old, new } => write!(f, "~ name: {old:?} -> {new:?}"),
            Change::Described { old, new } => write!(f, "~ description: {old:?} -> {new:?}"),
            Change::Added { node, type_name } => write!(f, "+ {node} ({type_name})"),
            Change::Removed { node, type_name } => write!(f, "- {node} ({type_name})"),
            Change::Retyped { node, old, new } => write!(f, "~ {node}: type {old} -> {new}"),
            Change::Param { node, param, old, new } => write!(f, "~ {node}.{param}: {} -> {}", show(old), show(new)),
            Change::Wire { node, input, old, new } => {
                write!(f, "~ {node} <- {input}: {} -> {}", show(old), show(new))
            }
            Change::Placement { node, old, new } => write!(f, "~ {node} placement: {} -> {}", show(old), show(new)),
            Change::Quality { node, old, new } => write!(f, "~ {node} quality: {} -> {}", show(old), show(new)),
            Change::Requires { node, old, new } => write!(f, "~ {node} requires: {} -> {}", show(old), show(new)),
            Change::Moved { node, old, new } => write!(f, "  {node} moved {} -> {}", show_pos(old), show_pos(new)),
            Change::Layout { key } => write!(f, "  layout {key} changed"),
        }
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A node's fields as JSON: `type`, `params`, `inputs`, `placement`, `quality`, `requires`.
pub(crate) fn fields(node: &NodeEntry) -> Map<String, Value> {
    match serde_json::to_value(node) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A node's position on the canvas, from the layout's `nodes.ID.pos`.
pub(crate) fn position(file: &WorkflowFile, node: &str) -> Option<[f64; 2]> {
    let pos = file.ui.as_ref()?.get("nodes")?.get(node)?.get("pos")?.as_array()?;
    Some([pos.first()?.as_f64()?, pos.get(1)?.as_f64()?])
}

fn entries(map: &Map<String, Value>, key: &str) -> Map<String, Value> {
    map.get(key).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// Per key of two objects (old order, then new keys): `(key, old, new)` where they differ.
fn keyed<'a>(
    old: &'a Map<String, Value>,
    new: &'a Map<String, Value>,
) -> Vec<(&'a String, Option<Value>, Option<Value>)> {
    let keys = old.keys().chain(new.keys().filter(|k| !old.contains_key(*k)));
    keys.filter_map(|k| {
        let (a, b) = (old.get(k), new.get(k));
        (a != b).then(|| (k, a.cloned(), b.cloned()))
    })
    .collect()
}

fn node_changes(id: &str, old: &NodeEntry, new: &NodeEntry, out: &mut Vec<Change>) {
    let node = || id.to_string();
    if old.type_name != new.type_name {
        out.push(Change::Retyped { node: node(), old: old.type_name.clone(), new: new.type_name.clone() });
    }
    let (a, b) = (fields(old), fields(new));
    for (param, old, new) in keyed(&entries(&a, "params"), &entries(&b, "params")) {
        out.push(Change::Param { node: node(), param: param.clone(), old, new });
    }
    for (input, old, new) in keyed(&entries(&a, "inputs"), &entries(&b, "inputs")) {
        out.push(Change::Wire { node: node(), input: input.clone(), old, new });
    }
    for key in ["placement", "quality", "requires"] {
        let (old, new) = (a.get(key).cloned(), b.get(key).cloned());
        if old != new {
            out.push(match key {
                "placement" => Change::Placement { node: node(), old, new },
                "quality" => Change::Quality { node: node(), old, new },
                _ => Change::Requires { node: node(), old, new },
            });
        }
    }
}

fn layout_changes(old: &WorkflowFile, new: &WorkflowFile, out: &mut Vec<Change>) {
    for (id, _) in new.nodes.iter().filter(|(id, _)| old.nodes.contains_key(*id)) {
        let (a, b) = (position(old, id), position(new, id));
        if a != b {
            out.push(Change::Moved { node: id.clone(), old: a, new: b });
        }
    }
    let rest = |f: &WorkflowFile| {
        let mut ui = f.ui.clone().unwrap_or_default();
        ui.remove("nodes");
        ui
    };
    for (key, _, _) in keyed(&rest(old), &rest(new)) {
        out.push(Change::Layout { key: key.clone() });
    }
}

/// What changed from `old` to `new`.
pub fn diff(old: &WorkflowFile, new: &WorkflowFile) -> Diff {
    let mut changes = Vec::new();
    if old.name != new.name {
        changes.push(Change::Renamed { old: old.name.clone(), new: new.name.clone() });
    }
    if old.description != new.description {
        changes.push(Change::Described { old: old.description.clone(), new: new.description.clone() });
    }
    for (id, node) in &new.nodes {
        match old.nodes.get(id) {
            None => changes.push(Change::Added { node: id.clone(), type_name: node.type_name.clone() }),
            Some(before) if before != node => node_changes(id, before, node, &mut changes),
            Some(_) => {}
        }
    }
    for (id, node) in old.nodes.iter().filter(|(id, _)| !new.nodes.contains_key(*id)) {
        changes.push(Change::Removed { node: id.clone(), type_name: node.type_name.clone() });
    }
    layout_changes(old, new, &mut changes);
    Diff { changes }
}
