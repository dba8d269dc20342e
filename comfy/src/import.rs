//! An API-format prompt into a Switchyard workflow, node by node through the mapping. Every
//! node with no equivalent is reported (with its id, type and the nearest Switchyard node),
//! never dropped; a value Switchyard cannot honour is refused on its node.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_engine::Registry;
use switchyard_engine::format::{FORMAT_NAME, FileMap, InputRef, NodeEntry, WorkflowFile};

use crate::api::{ApiNode, ApiPrompt, link_of};
use crate::mapping::{Mapping, NodeMap, json_of};

/// The longer side of a size made from an aspect ratio (`16:9` -> 1024x576).
const ASPECT_SIDE_PX: i64 = 1024;

/// Pass-through outputs followed from one link, at most.
const PASSTHROUGH_HOPS_MAX: usize = 64;

/// A ComfyUI node with no Switchyard equivalent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// Its id in the prompt.
    pub id: String,
    /// Its ComfyUI type.
    pub class_type: String,
    /// The nearest Switchyard node type, if there is one.
    pub nearest: Option<String>,
}

/// Something wrong on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Its id in the prompt.
    pub id: String,
    /// Its ComfyUI type.
    pub class_type: String,
    /// What is wrong, and how to fix it.
    pub message: String,
}

/// Why a prompt cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Nodes with no equivalent, every one of them.
    #[error("{} node(s) have no Switchyard equivalent: {}", .0.len(), list_unmapped(.0))]
    Unmapped(Vec<Unmapped>),
    /// Nodes whose values or links cannot be taken.
    #[error("{}", .0.iter().map(|p| format!("node {} ({}): {}", p.id, p.class_type, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    /// Not a ComfyUI workflow at all.
    #[error("{0}")]
    Format(String),
}

fn list_unmapped(nodes: &[Unmapped]) -> String {
    let one = |u: &Unmapped| match &u.nearest {
        Some(n) => format!("{} ({}; nearest Switchyard node: {n})", u.id, u.class_type),
        None => format!("{} ({})", u.id, u.class_type),
    };
    nodes.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// A workflow translated from ComfyUI, with what was approximated.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The workflow.
    pub workflow: WorkflowFile,
    /// Inputs dropped or values approximated, one line each.
    pub warnings: Vec<String>,
    /// Switchyard node id -> the ComfyUI node id it came from.
    pub origin: BTreeMap<String, String>,
}

/// A Switchyard node id for a ComfyUI id (`10:5` in a subgraph becomes `10-5`).
pub fn node_id(comfy: &str) -> String {
    let id: String =
        comfy.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect();
    if id.is_empty() { "node".into() } else { id }
}

/// What a ComfyUI node is here.
enum Kind<'a> {
    Mapped(&'a NodeMap),
    /// A Switchyard node type used as a class type.
    Native,
}

/// The end of a link, seen from its consumer.
enum Source {
    Wire(String),
    Value(Value),
}

struct Importer<'a> {
    prompt: &'a ApiPrompt,
    registry: &'a Registry,
    kinds: BTreeMap<&'a str, Kind<'a>>,
    nodes: FileMap<NodeEntry>,
    helpers: FileMap<NodeEntry>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
    origin: BTreeMap<String, String>,
    /// Producer node id -> the sink node that saves its output.
    sunk: BTreeMap<String, String>,
}

/// Translates `prompt` through `mapping`, checking native Switchyard types against `registry`.
pub fn import_api(
    prompt: &ApiPrompt,
    mapping: &Mapping,
    registry: &Registry,
    name: &str,
) -> Result<Imported, ImportError> {
    if prompt.is_empty() {
        return Err(ImportError::Format("the prompt has no nodes".into()));
    }
    let mut kinds = BTreeMap::new();
    let mut unmapped = Vec::new();
    for (id, node) in prompt {
        match (mapping.node.get(&node.class_type), registry.get(&node.class_type)) {
            (Some(m), _) => {
                kinds.insert(id.as_str(), Kind::Mapped(m));
            }
            (None, Some(_)) => {
                kinds.insert(id.as_str(), Kind::Native);
            }
            (None, None) => unmapped.push(Unmapped {
                id: id.clone(),
                class_type: node.class_type.clone(),
                nearest: mapping.nearest.get(&node.class_type).cloned(),
            }),
        }
    }
    if !unmapped.is_empty() {
        return Err(ImportError::Unmapped(unmapped));
    }
    let mut importer = Importer {
        prompt,
        registry,
        kinds,
        nodes: FileMap::default(),
        helpers: FileMap::default(),
        problems: Vec::new(),
        warnings: Vec::new(),
        origin: BTreeMap::new(),
        sunk: BTreeMap::new(),
    };
    for (id, node) in prompt {
        importer.node(id, node);
    }
    for (id, node) in prompt {
        importer.sink(id, node);
    }
    if !importer.problems.is_empty() {
        return Err(ImportError::Invalid(importer.problems));
    }
    let mut nodes = importer.nodes;
    nodes.extend(importer.helpers);
    let workflow = WorkflowFile {
        format: FORMAT_NAME.into(),
        version: 1,
        name: name.into(),
        description: "Imported from ComfyUI".into(),
        nodes,
        run: None,
        ui: None,
    };
    Ok(Imported { workflow, warnings: importer.warnings, origin: importer.origin })
}

impl<'a> Importer<'a> {
    fn problem(&mut self, id: &str, node: &ApiNode, message: String) {
        self.problems.push(Problem { id: id.into(), class_type: node.class_type.clone(), message });
    }

    fn node(&mut self, id: &str, node: &ApiNode) {
        let entry = match self.kinds.get(id) {
            Some(Kind::Mapped(m)) if m.constant.is_some() || m.sink.is_some() => return,
            Some(Kind::Mapped(m)) => {
                let m: &NodeMap = m;
                self.mapped(id, node, m)
            }
            Some(Kind::Native) => self.native(id, node),
            None => return,
        };
        let Some(entry) = entry else { return };
        let sid = node_id(id);
        self.origin.insert(sid.clone(), id.to_string());
        self.nodes.insert(sid, entry);
    }

    /// A sink node (SaveVideo): its params go onto the node that makes what it saves, which
    /// already writes it. Two sinks of one producer: the first wins, with a warning.
    fn sink(&mut self, id: &str, node: &ApiNode) {
        let Some(Kind::Mapped(m)) = self.kinds.get(id) else { return };
        let m: &NodeMap = m;
        let Some(sink) = &m.sink else { return };
        let Some(link) = node.inputs.get(&sink.input).and_then(link_of) else {
            self.problem(id, node, format!("input {:?} must be linked to the node that makes it", sink.input));
            return;
        };
        let (src, _) = self.through(&link);
        let producer = node_id(&src);
        let made_by_kind = self.nodes.get(&producer).is_some_and(|p| p.type_name == m.type_name);
        if !made_by_kind {
            let message =
                format!("saves node {src}'s output, but only a {} node's output can be saved here", m.type_name);
            self.problem(id, node, message);
            return;
        }
        if self.sunk.contains_key(&producer) {
            let first = self.sunk.get(&producer).cloned().unwrap_or_default();
            self.warnings.push(format!(
                "node {id} ({}): node {first} already saves node {src}'s output; Switchyard writes it once, so this save is left out",
                node.class_type
            ));
            return;
        }
        let mut params = blank(&m.type_name);
        let mut ok = true;
        for (name, value) in node.inputs.iter().filter(|(name, _)| **name != sink.input) {
            ok &= self.input(id, node, m, &mut params, name, value).is_some();
        }
        if let (true, Some(entry)) = (ok, self.nodes.get_mut(&producer)) {
            entry.params.extend(params.params);
            self.sunk.insert(producer, id.to_string());
        }
    }

    fn native(&mut self, id: &str, node: &ApiNode) -> Option<NodeEntry> {
        let mut entry = blank(&node.class_type);
        for (name, value) in &node.inputs {
            if let Some(links) = links_of(value) {
                let mut wires = Vec::with_capacity(links.len());
                for link in &links {
                    match self.source(id, node, link)? {
                        Source::Wire(w) => wires.push(w),
                        Source::Value(_) => {
                            self.problem(id, node, format!("input {name:?} takes wires, not values"));
                            return None;
                        }
                    }
                }
                entry.inputs.insert(name.clone(), InputRef::Many(wires));
                continue;
            }
            match link_of(value) {
                Some(link) => match self.source(id, node, &link)? {
                    Source::Wire(w) => {
                        entry.inputs.insert(name.clone(), InputRef::One(w));
                    }
                    Source::Value(v) => {
                        entry.params.insert(name.clone(), v);
                    }
                },
                None => {
                    entry.params.insert(name.clone(), value.clone());
                }
            }
        }
        Some(entry)
    }

    fn mapped(&mut self, id: &str, node: &ApiNode, m: &NodeMap) -> Option<NodeEntry> {
        let linked = |input: &str| node.inputs.get(input).is_some_and(|v| link_of(v).is_some());
        let type_name = m.when_linked.iter().find(|(input, _)| linked(input)).map_or(&m.type_name, |(_, t)| t);
        let mut entry = blank(type_name);
        for (param, value) in &m.set {
            entry.params.insert(param.clone(), json_of(value));
        }
        let mut ok = true;
        for (name, value) in &node.inputs {
            ok &= self.input(id, node, m, &mut entry, name, value).is_some();
        }
        self.drop_foreign_params(id, node, &mut entry);
        ok.then_some(entry)
    }

    /// One input of a mapped node; `None` after recording a problem.
    fn input(
        &mut self,
        id: &str,
        node: &ApiNode,
        m: &NodeMap,
        entry: &mut NodeEntry,
        name: &str,
        value: &Value,
    ) -> Option<()> {
        if let Some(link) = link_of(value) {
            let source = self.source(id, node, &link)?;
            return match (m.inputs.get(name), m.params.get(name), source) {
                (Some(port), _, Source::Wire(w)) => {
                    entry.inputs.insert(port.clone(), InputRef::One(w));
                    Some(())
                }
                (None, Some(param), Source::Wire(w)) => {
                    entry.inputs.insert(param.clone(), InputRef::One(w));
                    Some(())
                }
                (_, Some(param), Source::Value(v)) => {
                    let v = self.value(id, node, m, name, param, &v)?;
                    entry.params.insert(param.clone(), v);
                    Some(())
                }
                _ if m.ignore.iter().any(|i| i == name) => Some(()),
                _ => {
                    self.problem(
                        id,
                        node,
                        format!("input {name:?} cannot be linked here: Switchyard has no such input"),
                    );
                    None
                }
            };
        }
        if let Some(allowed) = m.only.get(name)
            && !allowed.iter().any(|a| same(&json_of(a), value))
        {
            let allowed: Vec<String> = allowed.iter().map(|a| json_of(a).to_string()).collect();
            let message = format!("{name} = {value} is not supported; Switchyard takes {}", allowed.join(" or "));
            self.problem(id, node, message);
            return None;
        }
        if m.only.contains_key(name) && !m.params.contains_key(name) && !m.size.contains_key(name) {
            // A value Switchyard honours by what it does anyway.
            return Some(());
        }
        if let Some([w, h]) = m.size.get(name) {
            return self.size(id, node, entry, value, w, h);
        }
        if let Some(param) = m.params.get(name) {
            let v = self.value(id, node, m, name, param, value)?;
            entry.params.insert(param.clone(), v);
        } else if !m.ignore.iter().any(|i| i == name) && !m.inputs.contains_key(name) {
            self.warnings.push(format!(
                "node {id} ({}): input {name:?} has no Switchyard equivalent; left out",
                node.class_type
            ));
        }
        Some(())
    }

    /// A `WxH` value into two params, or an aspect ratio `W:H` as the largest size of
    /// exactly that ratio within `ASPECT_SIDE_PX` (`auto`: the node's defaults).
    fn size(&mut self, id: &str, node: &ApiNode, entry: &mut NodeEntry, value: &Value, w: &str, h: &str) -> Option<()> {
        let text = value.as_str().unwrap_or_default();
        if text == "auto" {
            return Some(());
        }
        let pair = |sep: char| {
            text.split_once(sep)
                .and_then(|(a, b)| Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?)))
                .filter(|(a, b)| *a > 0 && *b > 0)
        };
        let parsed = pair('x').or_else(|| {
            let (a, b) = pair(':')?;
            let k = ASPECT_SIDE_PX / a.max(b);
            (k > 0).then_some((a * k, b * k))
        });
        let Some((width, height)) = parsed else {
            self.problem(id, node, format!("size {value} is not WIDTHxHEIGHT or an aspect ratio W:H"));
            return None;
        };
        entry.params.insert(w.into(), width.into());
        entry.params.insert(h.into(), height.into());
        Some(())
    }

    /// A widget value through the input's value map and the param's template.
    fn value(&mut self, id: &str, node: &ApiNode, m: &NodeMap, input: &str, param: &str, v: &Value) -> Option<Value> {
        let mut v = v.clone();
        if let Some(map) = m.values.get(input) {
            let key = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match map.get(&key) {
                Some(to) => v = json_of(to),
                None => {
                    let known: Vec<&String> = map.keys().collect();
                    self.problem(id, node, format!("{input} = {key:?} is not offered here; one of {known:?}"));
                    return None;
                }
            }
        }
        if let Some(template) = m.format.get(param) {
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            v = Value::String(template.replace("{}", &text));
        }
        Some(v)
    }

    /// Params the chosen type does not have (a `when_linked` type with fewer) are left out.
    fn drop_foreign_params(&mut self, id: &str, node: &ApiNode, entry: &mut NodeEntry) {
        let Some(spec) = self.registry.get(&entry.type_name).map(|n| n.spec().clone()) else { return };
        let foreign: Vec<String> = entry.params.keys().filter(|p| spec.param_spec(p).is_none()).cloned().collect();
        for p in foreign {
            entry.params.shift_remove(&p);
            self.warnings.push(format!("node {id} ({}): {} takes no {p}; left out", node.class_type, entry.type_name));
        }
    }

    /// What a link `(source id, output index)` stands for: a wire, or the value of a
    /// constant node. `None` after recording a problem.
    fn source(&mut self, id: &str, node: &ApiNode, link: &(String, usize)) -> Option<Source> {
        let (src, index) = self.through(link);
        let (src, index) = (&src, &index);
        let Some(src_node) = self.prompt.get(src) else {
            self.problem(id, node, format!("links to node {src}, which is not in the prompt"));
            return None;
        };
        let port = match self.kinds.get(src.as_str()) {
            Some(Kind::Mapped(m)) => {
                let m: &NodeMap = m;
                if let Some(input) = &m.constant {
                    let value = src_node.inputs.get(input).cloned().unwrap_or(Value::Null);
                    // A constant's value map (a voice's name -> its id) applies, and a value
                    // outside it is refused on the constant's node.
                    let value = match m.values.get(input) {
                        Some(map) => match value.as_str().and_then(|v| map.get(v)) {
                            Some(mapped) => json_of(mapped),
                            None => {
                                let message = format!("{input} = {value} is not one Switchyard knows");
                                self.problem(src, src_node, message);
                                return None;
                            }
                        },
                        None => value,
                    };
                    return Some(Source::Value(if m.stem { stem(&value) } else { value }));
                }
                match m.outputs.get(*index) {
                    Some(port) if m.derive.contains_key(port) => return Some(Source::Wire(self.derived(src, m, port))),
                    Some(port) => port.clone(),
                    None => {
                        self.problem(
                            id,
                            node,
                            format!("links to output {index} of node {src}, which has {}", m.outputs.len()),
                        );
                        return None;
                    }
                }
            }
            Some(Kind::Native) => {
                let spec = self.registry.get(&src_node.class_type).map(|n| n.spec().clone());
                match spec.and_then(|s| s.outputs.get(*index).map(|o| o.name)) {
                    Some(port) => port.to_string(),
                    None => {
                        self.problem(
                            id,
                            node,
                            format!("links to output {index} of node {src}, which has no such output"),
                        );
                        return None;
                    }
                }
            }
            None => return None,
        };
        Some(Source::Wire(format!("{}.{port}", node_id(src))))
    }

    /// Where a link really starts: followed back through pass-through outputs (ComfyUI's
    /// save nodes hand their image on), a bounded number of hops.
    fn through(&self, (src, index): &(String, usize)) -> (String, usize) {
        let (mut src, mut index) = (src.clone(), *index);
        for _ in 0..PASSTHROUGH_HOPS_MAX {
            let Some(Kind::Mapped(m)) = self.kinds.get(src.as_str()) else { break };
            let Some(input) = m.passthrough.get(&index.to_string()) else { break };
            let Some(up) = self.prompt.get(&src).and_then(|n| n.inputs.get(input)).and_then(crate::api::link_of) else {
                break;
            };
            (src, index) = up;
        }
        (src, index)
    }

    /// The helper node for a derived output, made once: its wire.
    fn derived(&mut self, src: &str, m: &NodeMap, name: &str) -> String {
        let helper_id = format!("{}_{name}", node_id(src));
        let Some(d) = m.derive.get(name) else { return format!("{}.{name}", node_id(src)) };
        if !self.helpers.contains_key(&helper_id) {
            let mut entry = blank(&d.type_name);
            entry.params = d.params.iter().map(|(k, v)| (k.clone(), json_of(v))).collect();
            entry.inputs.insert("image".into(), InputRef::One(format!("{}.{}", node_id(src), d.from)));
            self.helpers.insert(helper_id.clone(), entry);
            self.origin.insert(helper_id.clone(), src.to_string());
        }
        format!("{helper_id}.{}", d.port)
    }
}

fn blank(type_name: &str) -> NodeEntry {
    NodeEntry {
        type_name: type_name.into(),
        params: FileMap::default(),
        inputs: FileMap::default(),
        placement: None,
        quality: None,
        requires: None,
        mode: Default::default(),
    }
}

/// Several links (a Switchyard list input, as `export` writes one): `[[id, index], …]`.
fn links_of(v: &Value) -> Option<Vec<(String, usize)>> {
    let items = v.as_array()?;
    if items.is_empty() || !items.iter().all(|i| i.is_array()) {
        return None;
    }
    items.iter().map(link_of).collect()
}

/// Equal as values (1 and 1.0 are).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A file name's stem: `models/4x-UltraSharp.pth` -> `4x-UltraSharp`.
fn stem(v: &Value) -> Value {
    let Some(text) = v.as_str() else { return v.clone() };
    let file = text.rsplit(['/', '\\']).next().unwrap_or(text);
    Value::String(file.rsplit_once('.').map_or(file, |(s, _)| s).to_string())
}
