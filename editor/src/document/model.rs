//! The editable graph: one `EdNode` per workflow node on the snarl canvas. It holds exactly
//! what the file holds (params as JSON, placement, quality); run state lives elsewhere.

use std::collections::BTreeMap;

use egui_snarl::{InPinId, NodeId, OutPinId, Snarl};
use switchyard_engine::format::{FileMap, NodeMode, Placement, Quality, Requires, RunSettings};
use switchyard_engine::{NodeSpec, PortType, Registry};

/// One node as the editor holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct EdNode {
    /// The node's id in the file (`load`, `blur_2`).
    pub key: String,
    /// The node type, such as `image.blur`.
    pub type_name: String,
    /// Params set in the file, by name; absent ones take their defaults.
    pub params: FileMap<serde_json::Value>,
    /// Params driven by a wire; each gets an input pin after the declared inputs.
    pub param_wires: Vec<String>,
    /// Where a cloud-capable node may run.
    pub placement: Option<Placement>,
    /// Draft or final, for `local-first`.
    pub quality: Option<Quality>,
    /// What a machine must have to run it (kept as the file had it).
    pub requires: Option<Requires>,
    /// Runs, is bypassed (inputs pass through) or is muted (left out).
    pub mode: NodeMode,
    /// The file's order of each list input's sources, so saving keeps it.
    pub list_order: BTreeMap<String, Vec<String>>,
    /// Creation order, so saved files keep their node order.
    pub seq: u64,
}

/// An input pin: a declared input or a param driven by a wire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InPort<'a> {
    /// The input's (or param's) name.
    pub name: &'a str,
    /// What it accepts.
    pub ty: PortType,
    /// How many wires it takes.
    pub max_sources: usize,
}

impl EdNode {
    /// A new node of `spec`'s type with default params.
    pub fn new(key: String, spec: &NodeSpec, seq: u64) -> Self {
        Self {
            key,
            type_name: spec.type_name.to_string(),
            params: FileMap::default(),
            param_wires: Vec::new(),
            placement: None,
            quality: None,
            requires: None,
            mode: NodeMode::Always,
            list_order: BTreeMap::new(),
            seq,
        }
    }

    /// Input pin `index` of this node, if it has one.
    pub fn in_port<'a>(&'a self, spec: &'a NodeSpec, index: usize) -> Option<InPort<'a>> {
        if let Some(i) = spec.inputs.get(index) {
            return Some(InPort { name: i.name, ty: i.ty, max_sources: i.max_sources });
        }
        let name = self.param_wires.get(index - spec.inputs.len())?;
        let p = spec.param_spec(name)?;
        Some(InPort { name, ty: p.kind.port_type(), max_sources: 1 })
    }

    /// The index of the input pin named `name` (a declared input or a wire-driven param).
    pub fn input_index(&self, spec: &NodeSpec, name: &str) -> Option<usize> {
        (0..self.in_count(spec)).find(|&i| self.in_port(spec, i).is_some_and(|p| p.name == name))
    }

    /// How many input pins the node shows.
    pub fn in_count(&self, spec: &NodeSpec) -> usize {
        spec.inputs.len() + self.param_wires.len()
    }
}

/// The graph being edited, with the parts of the file the canvas does not show.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// Nodes and wires.
    pub snarl: Snarl<EdNode>,
    /// The workflow's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The run settings saved with it (policy, budget, deadline, routes).
    pub run: RunSettings,
    /// Named, coloured groups (the file's `ui.groups`).
    pub groups: Vec<crate::document::groups::Group>,
    /// The file's `ui` section minus node positions and groups, carried through untouched.
    pub ui_rest: serde_json::Map<String, serde_json::Value>,
    /// The next `seq` to give.
    pub next_seq: u64,
}

impl Doc {
    /// The canvas id of the node keyed `key`.
    pub fn find(&self, key: &str) -> Option<NodeId> {
        self.snarl.node_ids().find(|(_, n)| n.key == key).map(|(id, _)| id)
    }

    /// A key not used yet, from `base` (`blur`, then `blur_2`, `blur_3`, …).
    pub fn fresh_key(&self, base: &str) -> String {
        let base: String = base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let taken = |k: &str| self.snarl.nodes().any(|n| n.key == k);
        if !taken(&base) {
            return base;
        }
        (2..).map(|i| format!("{base}_{i}")).find(|k| !taken(k)).unwrap_or(base)
    }

    /// Adds a node of `spec`'s type at `pos`.
    pub fn add(&mut self, spec: &NodeSpec, pos: egui::Pos2) -> NodeId {
        let base = spec.type_name.rsplit('.').next().unwrap_or(spec.type_name);
        let node = EdNode::new(self.fresh_key(base), spec, self.next_seq);
        self.next_seq += 1;
        self.snarl.insert_node(pos, node)
    }

    /// Copies the nodes `ids` (params and the wires among them) beside the originals.
    pub fn duplicate(&mut self, ids: &[NodeId]) -> Vec<NodeId> {
        let mut made = BTreeMap::new();
        for &id in ids {
            let Some(info) = self.snarl.get_node_info(id) else { continue };
            let (pos, mut copy) = (info.pos, info.value.clone());
            copy.key = self.fresh_key(&copy.key);
            copy.seq = self.next_seq;
            self.next_seq += 1;
            made.insert(id, self.snarl.insert_node(pos + egui::vec2(40.0, 40.0), copy));
        }
        let inner: Vec<(OutPinId, InPinId)> =
            self.snarl.wires().filter(|(o, i)| made.contains_key(&o.node) && made.contains_key(&i.node)).collect();
        for (o, i) in inner {
            let (Some(&from), Some(&to)) = (made.get(&o.node), made.get(&i.node)) else { continue };
            self.snarl.connect(OutPinId { node: from, output: o.output }, InPinId { node: to, input: i.input });
        }
        made.into_values().collect()
    }

    /// Removes nodes and every wire touching them; a removed reroute point joins the wire it
    /// carried.
    pub fn remove(&mut self, ids: &[NodeId]) {
        for &id in ids {
            match self.snarl.get_node(id).map(EdNode::is_reroute) {
                Some(true) => self.remove_reroute(id),
                Some(false) => drop(self.snarl.remove_node(id)),
                None => {}
            }
        }
    }
}

/// The spec of a node's type; the editor only holds nodes whose type the registry knows.
pub fn spec_of<'a>(registry: &'a Registry, node: &EdNode) -> Option<&'a NodeSpec> {
    registry.get(&node.type_name).map(|n| n.spec())
}

/// Whether a wire from `from` into `to` would close a loop: walks downstream from `to`, as
/// reaching `from` means `from` already depends on `to`. Bounded by the graph's size.
pub fn would_cycle(snarl: &Snarl<EdNode>, from: NodeId, to: NodeId) -> bool {
    let mut downstream: std::collections::HashMap<NodeId, Vec<NodeId>> = std::collections::HashMap::new();
    for (o, i) in snarl.wires() {
        downstream.entry(o.node).or_default().push(i.node);
    }
    let mut stack = vec![to];
    let mut seen = std::collections::HashSet::new();
    while let Some(n) = stack.pop() {
        if n == from {
            return true;
        }
        if seen.insert(n) {
            stack.extend(downstream.get(&n).into_iter().flatten().copied());
        }
    }
    false
}

impl Doc {
    /// Gives `param` of `node` an input pin (after the others); its widget value is dropped,
    /// as a param is either set or wired.
    pub fn drive_by_wire(&mut self, node: NodeId, param: &str) {
        let Some(n) = self.snarl.get_node_mut(node) else { return };
        if !n.param_wires.iter().any(|w| w == param) {
            n.param_wires.push(param.to_string());
            n.params.shift_remove(param);
        }
    }

    /// Removes the input pin of wire-driven `param` of `node`, with its wire; the pins after
    /// it move up one, and their wires with them.
    pub fn back_to_widget(&mut self, node: NodeId, param: &str, declared_inputs: usize) {
        let Some(n) = self.snarl.get_node_mut(node) else { return };
        let Some(j) = n.param_wires.iter().position(|w| w == param) else { return };
        n.param_wires.remove(j);
        let removed = declared_inputs + j;
        let moved: Vec<(OutPinId, InPinId)> =
            self.snarl.wires().filter(|(_, i)| i.node == node && i.input >= removed).collect();
        for (o, i) in moved {
            self.snarl.disconnect(o, i);
            if i.input > removed {
                self.snarl.connect(o, InPinId { node, input: i.input - 1 });
            }
        }
    }
}
