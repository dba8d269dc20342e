//! ComfyUI's UI format (what its editor saves): version 0.4 with `nodes` and `links` arrays,
//! and version 1 with link objects and `definitions.subgraphs`. It is flattened into an
//! API-format prompt, as ComfyUI's frontend does before it queues: subgraphs expanded (inner
//! nodes get ids `INSTANCE:INNER`), `Reroute`s followed, `PrimitiveNode`s and promoted
//! widgets inlined as values, muted nodes (mode 2) dropped and bypassed ones (mode 4)
//! passed through; notes are kept as layout comments.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{ApiNode, ApiPrompt};
use crate::mapping::Mapping;

/// The deepest subgraph nesting expanded.
const DEPTH_MAX: usize = 16;
/// The most nodes a flattened workflow may have.
const NODES_MAX: usize = 100_000;

/// A UI-format workflow.
#[derive(Clone, Debug, Deserialize)]
struct UiWorkflow {
    #[serde(default)]
    nodes: Vec<UiNode>,
    #[serde(default)]
    links: Vec<UiLink>,
    #[serde(default)]
    definitions: Option<Definitions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Definitions {
    #[serde(default)]
    subgraphs: Vec<Subgraph>,
}

#[derive(Clone, Debug, Deserialize)]
struct Subgraph {
    id: String,
    #[serde(default)]
    nodes: Vec<UiNode>,
    #[serde(default)]
    links: Vec<UiLink>,
    #[serde(default)]
    inputs: Vec<Slot>,
}

#[derive(Clone, Debug, Deserialize)]
struct Slot {
    #[serde(default)]
    name: String,
}

#[derive(Clone, Debug, Deserialize)]
struct UiNode {
    id: Value,
    #[serde(rename = "type")]
    class_type: String,
    #[serde(default)]
    mode: i64,
    #[serde(default)]
    inputs: Vec<UiInput>,
    #[serde(default)]
    outputs: Vec<UiOutput>,
    #[serde(default)]
    widgets_values: Option<Value>,
    /// Newer frontends also save the widget values by name.
    #[serde(default)]
    widgets_values_named: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct UiInput {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    ty: Value,
    #[serde(default)]
    link: Option<i64>,
    #[serde(default)]
    widget: Option<Widget>,
}

#[derive(Clone, Debug, Deserialize)]
struct Widget {
    name: String,
}

#[derive(Clone, Debug, Deserialize)]
struct UiOutput {
    #[serde(default, rename = "type")]
    ty: Value,
}

/// `[id, origin, origin slot, target, target slot, type]` (0.4) or an object (version 1).
#[derive(Clone, Debug)]
struct UiLink {
    id: i64,
    origin: Value,
    origin_slot: usize,
    target: Value,
    target_slot: usize,
}

impl UiLink {
    /// Whether it feeds output `slot` of its subgraph (the output node is -20).
    fn target_is_output(&self, slot: usize) -> bool {
        id_text(&self.target) == "-20" && self.target_slot == slot
    }
}

impl<'de> Deserialize<'de> for UiLink {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = Value::deserialize(d)?;
        let slot = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
        let field = |o: &serde_json::Map<String, Value>, k: &str| o.get(k).cloned().unwrap_or(Value::Null);
        let (id, origin, origin_slot, target, target_slot) = match &v {
            Value::Array(a) if a.len() >= 5 => (a[0].as_i64(), a[1].clone(), slot(&a[2]), a[3].clone(), slot(&a[4])),
            Value::Object(o) => (
                o.get("id").and_then(Value::as_i64),
                field(o, "origin_id"),
                o.get("origin_slot").and_then(slot),
                field(o, "target_id"),
                o.get("target_slot").and_then(slot),
            ),
            _ => (None, Value::Null, None, Value::Null, None),
        };
        match (id, origin_slot, target_slot) {
            (Some(id), Some(origin_slot), Some(target_slot)) => {
                Ok(UiLink { id, origin, origin_slot, target, target_slot })
            }
            _ => Err(D::Error::custom(format!("a link is [id, origin, slot, target, slot, type], not {v}"))),
        }
    }
}

/// A flattened UI file: the prompt, and the notes found in it.
#[derive(Clone, Debug, Default)]
pub struct Flattened {
    /// The API-format prompt.
    pub prompt: ApiPrompt,
    /// Notes' texts (`Note`, `MarkdownNote`), by node id.
    pub notes: BTreeMap<String, String>,
}

/// Whether `value` looks like a UI-format workflow (it has a `nodes` array).
pub fn is_ui(value: &Value) -> bool {
    value.get("nodes").is_some_and(Value::is_array)
}

/// Flattens a UI-format workflow into an API-format prompt; widget values are named by the
/// mapping's widget order (a node the mapping lacks keeps only its links, and is reported
/// by the import).
pub fn flatten(value: Value, mapping: &Mapping) -> Result<Flattened, String> {
    let ui: UiWorkflow = serde_json::from_value(value).map_err(|e| format!("not a ComfyUI UI-format workflow: {e}"))?;
    let subgraphs: BTreeMap<String, Subgraph> =
        ui.definitions.unwrap_or_default().subgraphs.into_iter().map(|s| (s.id.clone(), s)).collect();
    let mut out = Flattened::default();
    let top = Scope { prefix: String::new(), nodes: &ui.nodes, links: &ui.links, outer: None };
    Flattener { mapping, subgraphs: &subgraphs, out: &mut out }.scope(&top, 0)?;
    Ok(out)
}

/// One graph level: the top, or a subgraph instance's inside.
struct Scope<'a> {
    /// Ids of this level's nodes start with this (`19:` inside instance 19).
    prefix: String,
    nodes: &'a [UiNode],
    links: &'a [UiLink],
    /// The instance this is the inside of, with its own scope.
    outer: Option<(&'a UiNode, &'a Scope<'a>)>,
}

/// What an input receives.
#[derive(Clone, Debug)]
enum Feed {
    Link(String, usize),
    Value(Value),
    Nothing,
}

struct Flattener<'a, 'o> {
    mapping: &'a Mapping,
    subgraphs: &'a BTreeMap<String, Subgraph>,
    out: &'o mut Flattened,
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Flattener<'_, '_> {
    fn scope(&mut self, scope: &Scope<'_>, depth: usize) -> Result<(), String> {
        if depth > DEPTH_MAX {
            return Err(format!("subgraphs nest deeper than {DEPTH_MAX}"));
        }
        for node in scope.nodes {
            if self.out.prompt.len() > NODES_MAX {
                return Err(format!("the workflow has over {NODES_MAX} nodes"));
            }
            let id = format!("{}{}", scope.prefix, id_text(&node.id));
            match node.class_type.as_str() {
                "Note" | "MarkdownNote" => {
                    let text = first_widget(node).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                    self.out.notes.insert(id, text);
                }
                "Reroute" | "PrimitiveNode" => {}
                _ if node.mode == 2 || node.mode == 4 => {}
                t if self.subgraphs.contains_key(t) => {
                    let Some(sg) = self.subgraphs.get(t) else { continue };
                    let inner = Scope {
                        prefix: format!("{id}:"),
                        nodes: &sg.nodes,
                        links: &sg.links,
                        outer: Some((node, scope)),
                    };
                    self.scope(&inner, depth + 1)?;
                }
                _ => {
                    let api = self.api_node(scope, node, depth)?;
                    self.out.prompt.insert(id, api);
                }
            }
        }
        Ok(())
    }

    /// A real node's inputs: its widget values by name, then its links.
    fn api_node(&self, scope: &Scope<'_>, node: &UiNode, depth: usize) -> Result<ApiNode, String> {
        let mut inputs = IndexMap::new();
        let positional = match &node.widgets_values {
            Some(Value::Array(values)) => values.as_slice(),
            _ => &[],
        };
        let names: Vec<String> = match self.mapping.node.get(&node.class_type) {
            Some(m) if !m.widgets.is_empty() => m.widget_order(positional).to_vec(),
            _ => node.inputs.iter().filter_map(|i| i.widget.as_ref().map(|w| w.name.clone())).collect(),
        };
        match (&node.widgets_values_named, &node.widgets_values) {
            // Names saved with the values need no order (a seed's control entry aside).
            (Some(named), _) if !named.is_empty() => {
                let kept = named.iter().filter(|(k, _)| k.as_str() != "control_after_generate");
                inputs.extend(kept.map(|(k, v)| (k.clone(), v.clone())));
            }
            (_, Some(Value::Array(values))) => {
                for (name, value) in names.iter().zip(values) {
                    if !name.starts_with('$') {
                        inputs.insert(name.clone(), value.clone());
                    }
                }
            }
            (_, Some(Value::Object(named))) => inputs.extend(named.iter().map(|(k, v)| (k.clone(), v.clone()))),
            _ => {}
        }
        for input in &node.inputs {
            let Some(link) = input.link else { continue };
            match self.feed(scope, link, depth)? {
                Feed::Link(src, slot) => {
                    inputs.insert(input.name.clone(), Value::Array(vec![Value::String(src), Value::from(slot)]));
                }
                Feed::Value(v) => {
                    inputs.insert(input.name.clone(), v);
                }
                // A muted source: the input is unlinked (its widget value, if any, stays).
                Feed::Nothing => {}
            }
        }
        let meta = node.title.as_ref().map(|t| serde_json::json!({ "title": t }));
        Ok(ApiNode { class_type: node.class_type.clone(), inputs, meta })
    }

    /// What link `link` in `scope` carries, followed through reroutes, bypassed nodes,
    /// primitives and subgraph boundaries.
    fn feed(&self, scope: &Scope<'_>, link: i64, depth: usize) -> Result<Feed, String> {
        if depth > DEPTH_MAX * 4 {
            return Err("links loop through reroutes or subgraphs".into());
        }
        let Some(l) = scope.links.iter().find(|l| l.id == link) else { return Ok(Feed::Nothing) };
        let origin = id_text(&l.origin);
        // A subgraph's input node is -10: the instance's own input of that index.
        if origin == "-10" {
            return self.instance_input(scope, l.origin_slot, depth);
        }
        let Some(src) = scope.nodes.iter().find(|n| id_text(&n.id) == origin) else { return Ok(Feed::Nothing) };
        let src_id = format!("{}{}", scope.prefix, origin);
        match src.class_type.as_str() {
            "Reroute" => match src.inputs.first().and_then(|i| i.link) {
                Some(up) => self.feed(scope, up, depth + 1),
                None => Ok(Feed::Nothing),
            },
            "PrimitiveNode" => Ok(first_widget(src).map_or(Feed::Nothing, Feed::Value)),
            _ if src.mode == 2 => Ok(Feed::Nothing),
            _ if src.mode == 4 => {
                // Bypassed: the first input of the output's type passes through.
                let ty = src.outputs.get(l.origin_slot).map(|o| o.ty.clone()).unwrap_or(Value::Null);
                match src.inputs.iter().find(|i| i.ty == ty && i.link.is_some()).and_then(|i| i.link) {
                    Some(up) => self.feed(scope, up, depth + 1),
                    None => Ok(Feed::Nothing),
                }
            }
            t if self.subgraphs.contains_key(t) => self.instance_output(scope, src, &src_id, l.origin_slot, depth),
            _ => Ok(Feed::Link(src_id, l.origin_slot)),
        }
    }

    /// Input `slot` of the instance whose inside `scope` is: its link, or its widget value.
    fn instance_input(&self, scope: &Scope<'_>, slot: usize, depth: usize) -> Result<Feed, String> {
        let Some((instance, outer)) = scope.outer else { return Ok(Feed::Nothing) };
        let Some(sg) = self.subgraphs.get(&instance.class_type) else { return Ok(Feed::Nothing) };
        let Some(name) = sg.inputs.get(slot).map(|s| s.name.as_str()) else { return Ok(Feed::Nothing) };
        let input = instance.inputs.iter().find(|i| i.name == name);
        if let Some(link) = input.and_then(|i| i.link) {
            return self.feed(outer, link, depth + 1);
        }
        // A promoted widget: its value among the instance's widget values, in widget order.
        let widgets: Vec<&str> =
            instance.inputs.iter().filter_map(|i| i.widget.as_ref().map(|w| w.name.as_str())).collect();
        let value = match &instance.widgets_values {
            Some(Value::Array(values)) => widgets.iter().position(|w| *w == name).and_then(|i| values.get(i)).cloned(),
            Some(Value::Object(named)) => named.get(name).cloned(),
            _ => None,
        };
        Ok(value.map_or(Feed::Nothing, Feed::Value))
    }

    /// Output `slot` of subgraph instance `instance`: what its inside links to the output node.
    fn instance_output(
        &self,
        scope: &Scope<'_>,
        instance: &UiNode,
        instance_id: &str,
        slot: usize,
        depth: usize,
    ) -> Result<Feed, String> {
        let Some(sg) = self.subgraphs.get(&instance.class_type) else { return Ok(Feed::Nothing) };
        let Some(l) = sg.links.iter().find(|l| l.target_is_output(slot)) else { return Ok(Feed::Nothing) };
        let inner = Scope {
            prefix: format!("{instance_id}:"),
            nodes: &sg.nodes,
            links: &sg.links,
            outer: Some((instance, scope)),
        };
        self.feed(&inner, l.id, depth + 1)
    }
}

fn first_widget(node: &UiNode) -> Option<Value> {
    match &node.widgets_values {
        Some(Value::Array(values)) => values.first().cloned(),
        Some(Value::Object(named)) => named.get("value").cloned(),
        _ => None,
    }
}
