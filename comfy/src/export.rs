//! A Switchyard workflow out in ComfyUI's API format. A node goes out as the ComfyUI node
//! the mapping pairs with it when its every param and input maps back exactly; otherwise as
//! its own Switchyard type, which Switchyard's `/prompt` takes as it is. Importing the
//! result gives the workflow back.

use indexmap::IndexMap;
use serde_json::Value;
use switchyard_engine::Registry;
use switchyard_engine::format::WorkflowFile;

use crate::api::{ApiNode, ApiPrompt};
use crate::mapping::{Mapping, NodeMap, json_of};

/// How one node goes out: its class type, its output ports in order, and its inputs.
struct Out {
    class_type: String,
    outputs: Vec<String>,
    /// Literal values by ComfyUI input name.
    values: IndexMap<String, Value>,
    /// Wires by ComfyUI input name (several for a list input).
    wires: IndexMap<String, Vec<String>>,
    /// Inputs written as lists of links even with one wire.
    lists: Vec<String>,
}

/// `workflow` in the API format; an error names a wire to a node or port that is not there.
pub fn export_api(workflow: &WorkflowFile, mapping: &Mapping, registry: &Registry) -> Result<ApiPrompt, String> {
    let outs: IndexMap<&str, Out> =
        workflow.nodes.iter().map(|(id, n)| (id.as_str(), out_of(n, mapping, registry))).collect();
    let mut prompt = ApiPrompt::new();
    for (id, out) in &outs {
        let mut inputs: IndexMap<String, Value> = out.values.clone();
        for (name, wires) in &out.wires {
            let links = wires.iter().map(|w| link(&outs, id, w)).collect::<Result<Vec<_>, _>>()?;
            let value = match <[Value; 1]>::try_from(links) {
                Ok([one]) if !out.lists.contains(name) => one,
                Ok([one]) => Value::Array(vec![one]),
                Err(many) => Value::Array(many),
            };
            inputs.insert(name.clone(), value);
        }
        prompt.insert(id.to_string(), ApiNode { class_type: out.class_type.clone(), inputs, meta: None });
    }
    Ok(prompt)
}

/// A wire `NODE.PORT` as a link `[NODE, output index]`.
fn link(outs: &IndexMap<&str, Out>, id: &str, wire: &str) -> Result<Value, String> {
    let (src, port) = wire.split_once('.').ok_or_else(|| format!("node {id}: {wire:?} is not NODE.PORT"))?;
    let src_out = outs.get(src).ok_or_else(|| format!("node {id}: {wire:?} names no node {src}"))?;
    let index = src_out
        .outputs
        .iter()
        .position(|p| p == port)
        .ok_or_else(|| format!("node {id}: {wire:?}: node {src} has no output {port:?}"))?;
    Ok(Value::Array(vec![Value::String(src.to_string()), Value::from(index)]))
}

fn out_of(node: &switchyard_engine::format::NodeEntry, mapping: &Mapping, registry: &Registry) -> Out {
    let reversed = mapping
        .node
        .iter()
        .filter(|(_, m)| m.type_name == node.type_name)
        .find_map(|(class, m)| reverse(class, m, node));
    reversed.unwrap_or_else(|| {
        let outputs = registry
            .get(&node.type_name)
            .map(|n| n.spec().outputs.iter().map(|o| o.name.to_string()).collect())
            .unwrap_or_default();
        Out {
            class_type: node.type_name.clone(),
            outputs,
            values: node.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            wires: node.inputs.iter().map(|(k, w)| (k.clone(), w.sources().to_vec())).collect(),
            lists: node
                .inputs
                .iter()
                .filter(|(_, w)| matches!(w, switchyard_engine::format::InputRef::Many(_)))
                .map(|(k, _)| k.clone())
                .collect(),
        }
    })
}

/// `node` as ComfyUI node `class`, if every param and input maps back exactly.
fn reverse(class: &str, m: &NodeMap, node: &switchyard_engine::format::NodeEntry) -> Option<Out> {
    if m.constant.is_some() || m.sink.is_some() || !m.when_linked.is_empty() {
        return None;
    }
    let mut values = IndexMap::new();
    let mut wires = IndexMap::new();
    for (param, fixed) in &m.set {
        if node.params.get(param) != Some(&json_of(fixed)) {
            return None;
        }
    }
    for (param, value) in node.params.iter().filter(|(p, _)| !m.set.contains_key(*p)) {
        if let Some((input, [w, h])) = m.size.iter().find(|(_, wh)| wh.iter().any(|x| x == param)) {
            let (width, height) = (node.params.get(w)?, node.params.get(h)?);
            values.insert(input.clone(), Value::String(format!("{width}x{height}")));
            continue;
        }
        let (input, _) = m.params.iter().find(|(_, p)| *p == param)?;
        values.insert(input.clone(), unmap(m, input, param, value)?);
    }
    for (input, value) in &m.fill {
        values.entry(input.clone()).or_insert_with(|| json_of(value));
    }
    for (input, allowed) in &m.only {
        if let [one] = allowed.as_slice() {
            values.entry(input.clone()).or_insert_with(|| json_of(one));
        }
    }
    for (port, wire) in &node.inputs {
        let switchyard_engine::format::InputRef::One(source) = wire else { return None };
        let input = m.inputs.iter().find(|(_, p)| *p == port).or_else(|| m.params.iter().find(|(_, p)| *p == port));
        wires.insert(input?.0.clone(), vec![source.clone()]);
    }
    Some(Out { class_type: class.into(), outputs: m.outputs.clone(), values, wires, lists: Vec::new() })
}

/// A param's value back through the input's template and value map.
fn unmap(m: &NodeMap, input: &str, param: &str, value: &Value) -> Option<Value> {
    let mut value = value.clone();
    if let Some(template) = m.format.get(param) {
        let (head, tail) = template.split_once("{}")?;
        let text = value.as_str()?;
        value = Value::String(text.strip_prefix(head)?.strip_suffix(tail)?.to_string());
    }
    if let Some(map) = m.values.get(input) {
        let key = match value.as_str().and_then(|text| Some((text, map.get(text)?))) {
            Some((text, to)) if json_of(to) == value => text.to_string(),
            _ => map.iter().find(|(_, to)| json_of(to) == value)?.0.clone(),
        };
        value = Value::String(key);
    }
    Some(value)
}
