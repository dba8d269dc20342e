//! A Switchyard workflow in ComfyUI's UI format (0.4), with Switchyard's node types as they
//! are (ComfyUI's frontend knows them from `/object_info`), so the frontend opens a
//! Switchyard workflow as a graph it can edit and queue: the way `/templates/` serves them.

use std::collections::HashMap;

use serde_json::{Value, json};
use switchyard_engine::format::{InputRef, WorkflowFile};
use switchyard_engine::{NodeSpec, ParamKind, ParamSpec, Registry};

use crate::object_info::comfy_type;

/// Columns and rows of the layout given to nodes the file places nowhere.
const COLUMN_PX: f64 = 360.0;
const ROW_PX: f64 = 280.0;
const NODE_WIDTH_PX: f64 = 320.0;
/// The height of a node's title, and of each slot or widget row under it.
const TITLE_PX: f64 = 30.0;
const ROW_HEIGHT_PX: f64 = 26.0;

/// The ComfyUI type of a param's socket, when a wire drives it.
fn param_type(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Int { .. } | ParamKind::Seed => "INT",
        ParamKind::Float { .. } => "FLOAT",
        ParamKind::Bool => "BOOLEAN",
        ParamKind::Choice { .. } => "COMBO",
        _ => "STRING",
    }
}

/// A param's widget values: its value (or default), and for a seed the "control after
/// generate" entry ComfyUI's frontend keeps after it.
fn widget_values(param: &ParamSpec, value: Option<&Value>) -> Vec<Value> {
    let default = param.default.as_ref().map(|d| serde_json::to_value(d).unwrap_or(Value::Null));
    let value = value.cloned().or(default).unwrap_or(Value::Null);
    match param.kind {
        ParamKind::Seed => vec![value, json!("fixed")],
        _ => vec![value],
    }
}

/// Where the file's layout puts node `id`, if it does.
fn placed(workflow: &WorkflowFile, id: &str) -> Option<[f64; 2]> {
    let pos = workflow.ui.as_ref()?.get("nodes")?.get(id)?.get("pos")?.as_array()?;
    Some([pos.first()?.as_f64()?, pos.get(1)?.as_f64()?])
}

/// The file's groups (`ui.groups`, already in ComfyUI's names) as the frontend reads them;
/// an entry without a usable bounding box is left out.
fn groups(workflow: &WorkflowFile) -> Vec<Value> {
    let Some(Value::Array(list)) = workflow.ui.as_ref().and_then(|u| u.get("groups")) else { return Vec::new() };
    let bounding = |g: &Value| {
        let b = g.get("bounding")?.as_array()?;
        let b: Option<Vec<f64>> = b.iter().map(|x| x.as_f64().filter(|x| x.is_finite())).collect();
        b.filter(|b| b.len() == 4 && b[2] > 0.0 && b[3] > 0.0)
    };
    let text = |g: &Value, key: &str, default: &str| g.get(key).and_then(Value::as_str).unwrap_or(default).to_string();
    list.iter()
        .filter_map(|g| Some((g, bounding(g)?)))
        .enumerate()
        .map(|(i, (g, b))| {
            json!({
                "id": i + 1,
                "title": text(g, "title", "Group"),
                "bounding": b,
                "color": text(g, "color", "#3f789e"),
                "font_size": 24,
                "flags": {},
            })
        })
        .collect()
}

/// Each node's depth: how many wires lie between it and a node with no inputs.
fn depths(workflow: &WorkflowFile) -> HashMap<&str, usize> {
    let mut depth: HashMap<&str, usize> = HashMap::new();
    // Nodes come in the file's order; a bounded number of passes settles any order.
    for _ in 0..workflow.nodes.len().min(64) {
        let mut changed = false;
        for (id, node) in &workflow.nodes {
            let upstream = node.inputs.values().flat_map(|r| r.sources()).filter_map(|s| s.split_once('.'));
            let d = upstream.map(|(src, _)| depth.get(src).copied().unwrap_or(0) + 1).max().unwrap_or(0);
            if depth.insert(id.as_str(), d) != Some(d) {
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// `workflow` in ComfyUI's UI format. A list input with several wires has no form there.
pub fn ui_of(workflow: &WorkflowFile, registry: &Registry) -> Result<Value, String> {
    let numbers: HashMap<&str, usize> = workflow.nodes.keys().enumerate().map(|(n, id)| (id.as_str(), n + 1)).collect();
    let specs: Vec<&NodeSpec> = workflow
        .nodes
        .iter()
        .map(|(id, n)| {
            registry.get(&n.type_name).map(|t| t.spec()).ok_or(format!("{id}: no node type {}", n.type_name))
        })
        .collect::<Result<_, _>>()?;
    let depth = depths(workflow);
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut links: Vec<Value> = Vec::new();
    let mut outputs: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    let mut nodes = Vec::new();
    for ((id, node), spec) in workflow.nodes.iter().zip(&specs) {
        let number = numbers[id.as_str()];
        // Sockets in the type's order, then the params that wires drive.
        let ports = spec.inputs.iter().map(|p| (p.name, None));
        let driven = spec.params.iter().filter(|p| node.inputs.contains_key(p.name)).map(|p| (p.name, Some(p)));
        let mut inputs = Vec::new();
        for (name, param) in ports.chain(driven) {
            let Some(wires) = node.inputs.get(name) else {
                let ty = spec.inputs.iter().find(|p| p.name == name).map_or("*", |p| comfy_type(p.ty));
                inputs.push(json!({ "name": name, "type": ty, "link": null }));
                continue;
            };
            let InputRef::One(wire) = wires else {
                return Err(format!("{id}.{name} is a list input, which ComfyUI's frontend cannot show"));
            };
            let (src, port) = wire.split_once('.').ok_or(format!("{id}.{name}: a wire is node.port, not {wire:?}"))?;
            let src_number = *numbers.get(src).ok_or(format!("{id}.{name}: no node {src}"))?;
            let src_spec = specs[src_number - 1];
            let slot =
                src_spec.outputs.iter().position(|o| o.name == port).ok_or(format!("{src} has no output {port}"))?;
            let ty = comfy_type(src_spec.outputs[slot].ty);
            let link = links.len() + 1;
            links.push(json!([link, src_number, slot, number, inputs.len(), ty]));
            outputs.entry((src_number, slot)).or_default().push(link);
            inputs.push(match param {
                Some(p) => {
                    json!({ "name": name, "type": param_type(&p.kind), "widget": { "name": name }, "link": link })
                }
                None => json!({ "name": name, "type": ty, "link": link }),
            });
        }
        let widgets: Vec<Value> = spec.params.iter().flat_map(|p| widget_values(p, node.params.get(p.name))).collect();
        let pos = placed(workflow, id).unwrap_or_else(|| {
            let column = depth.get(id.as_str()).copied().unwrap_or(0);
            let row = rows.entry(column).or_default();
            *row += 1;
            [column as f64 * COLUMN_PX, (*row - 1) as f64 * ROW_PX]
        });
        let height = TITLE_PX + ROW_HEIGHT_PX * (spec.inputs.len().max(spec.outputs.len()) + widgets.len()) as f64;
        nodes.push(json!({
            "id": number,
            "type": spec.type_name,
            "title": id.as_str(),
            "pos": pos,
            "size": [NODE_WIDTH_PX, height],
            "flags": {},
            "order": number - 1,
            "mode": 0,
            "inputs": inputs,
            "outputs": spec.outputs.iter().enumerate().map(|(slot, o)| json!({
                "name": o.name, "type": comfy_type(o.ty), "slot_index": slot,
                "links": outputs.get(&(number, slot)).cloned().unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "properties": { "Node name for S&R": spec.type_name },
            "widgets_values": widgets,
        }));
    }
    // Outputs' links were gathered as later nodes were read: fill them in now.
    for node in &mut nodes {
        let number = node["id"].as_u64().unwrap_or(0) as usize;
        if let Some(list) = node["outputs"].as_array_mut() {
            for (slot, output) in list.iter_mut().enumerate() {
                output["links"] = json!(outputs.get(&(number, slot)).cloned().unwrap_or_default());
            }
        }
    }
    Ok(json!({
        "last_node_id": nodes.len(),
        "last_link_id": links.len(),
        "nodes": nodes,
        "links": links,
        "groups": groups(workflow),
        "config": {},
        "extra": { "switchyard": { "name": workflow.name } },
        "version": 0.4,
    }))
}
