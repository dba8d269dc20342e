//! Switchyard's node types in the shape of ComfyUI's `GET /object_info`, so ComfyUI's
//! frontend and scripts see them: each input as `[TYPE, {options}]` (or a list of choices),
//! required or optional, in order, with outputs, category and display name.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value, json};
use switchyard_engine::{NodeSpec, ParamKind, ParamValue, PortType};

/// One node type as ComfyUI describes it.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectInfo {
    /// Inputs: `required` and `optional`, each name -> `[TYPE, {options}]`.
    pub input: Inputs,
    /// The input names in order.
    pub input_order: InputOrder,
    /// Output types.
    pub output: Vec<String>,
    /// Whether each output is a list.
    pub output_is_list: Vec<bool>,
    /// Output names.
    pub output_name: Vec<String>,
    /// The type name.
    pub name: String,
    /// The title shown and searched.
    pub display_name: String,
    /// One line on what it does.
    pub description: String,
    /// Where the node library files it.
    pub category: String,
    /// Whether it ends a graph (writes its result).
    pub output_node: bool,
    /// Where ComfyUI would find its code; here, Switchyard.
    pub python_module: String,
    /// A partner (paid) node: ComfyUI's frontend shows its price.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub api_node: bool,
    /// ComfyUI's price badge (a JSONata expression over the node's widgets), where priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_badge: Option<Value>,
}

/// A node's inputs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Inputs {
    /// Inputs it needs.
    pub required: IndexMap<String, Value>,
    /// Inputs it runs without.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub optional: IndexMap<String, Value>,
}

/// The inputs' order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InputOrder {
    /// Required inputs in order.
    pub required: Vec<String>,
    /// Optional inputs in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional: Vec<String>,
}

/// ComfyUI's name for a port type.
pub fn comfy_type(t: PortType) -> &'static str {
    match t {
        PortType::Image => "IMAGE",
        PortType::Mask => "MASK",
        PortType::Text => "STRING",
        PortType::Int => "INT",
        PortType::Float => "FLOAT",
        PortType::Bool => "BOOLEAN",
        PortType::VideoFrames => "VIDEO",
        PortType::Audio => "AUDIO",
        _ => "*",
    }
}

fn default_json(v: &ParamValue) -> Value {
    match v {
        ParamValue::Int(i) => json!(i),
        ParamValue::Float(f) => json!(f),
        ParamValue::Bool(b) => json!(b),
        ParamValue::Text(t) => json!(t.as_ref()),
    }
}

/// A widget input: `[TYPE, {default, min, max, step, …}]`, or `[[choices], {default}]`.
fn widget(kind: &ParamKind, default: Option<&ParamValue>, tooltip: &str) -> Value {
    let mut opts = serde_json::Map::new();
    if let Some(d) = default {
        opts.insert("default".into(), default_json(d));
    }
    opts.insert("tooltip".into(), json!(tooltip));
    let ty: Value = match kind {
        ParamKind::Int { min, max } => {
            // JavaScript's numbers: beyond 2^53 a bound would not survive the page.
            let js = |v: i64| v.clamp(-(1 << 53), 1 << 53);
            opts.extend([("min".into(), json!(js(*min))), ("max".into(), json!(js(*max))), ("step".into(), json!(1))]);
            json!("INT")
        }
        ParamKind::Seed => {
            opts.extend([
                ("min".into(), json!(0)),
                ("max".into(), json!(ParamKind::SEED_MAX)),
                ("control_after_generate".into(), json!(true)),
            ]);
            json!("INT")
        }
        ParamKind::Float { min, max } => {
            let step = if (max - min) > 100.0 { 0.1 } else { 0.01 };
            opts.extend([("min".into(), json!(min)), ("max".into(), json!(max)), ("step".into(), json!(step))]);
            json!("FLOAT")
        }
        ParamKind::Bool => json!("BOOLEAN"),
        ParamKind::Text { multiline, .. } => {
            opts.insert("multiline".into(), json!(multiline));
            json!("STRING")
        }
        ParamKind::Choice { options } => json!(options),
        ParamKind::Path { .. } => json!("STRING"),
    };
    Value::Array(vec![ty, Value::Object(opts)])
}

/// "image.blur" -> "Image Blur".
pub fn display_name(type_name: &str) -> String {
    type_name
        .split(['.', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `spec` as ComfyUI's object info.
pub fn object_info(spec: &NodeSpec) -> ObjectInfo {
    let mut input = Inputs::default();
    let mut order = InputOrder::default();
    for port in &spec.inputs {
        let value = json!([comfy_type(port.ty), { "tooltip": port.description }]);
        let (map, names) = if port.optional {
            (&mut input.optional, &mut order.optional)
        } else {
            (&mut input.required, &mut order.required)
        };
        map.insert(port.name.into(), value);
        names.push(port.name.into());
    }
    for param in &spec.params {
        let value = widget(&param.kind, param.default.as_ref(), param.description);
        input.required.insert(param.name.into(), value);
        order.required.push(param.name.into());
    }
    ObjectInfo {
        input,
        input_order: order,
        output: spec.outputs.iter().map(|o| comfy_type(o.ty).to_string()).collect(),
        output_is_list: spec.outputs.iter().map(|_| false).collect(),
        output_name: spec.outputs.iter().map(|o| o.name.to_string()).collect(),
        name: spec.type_name.into(),
        display_name: display_name(spec.type_name),
        description: spec.description.into(),
        category: format!("switchyard/{}", spec.category),
        output_node: spec.outputs.is_empty() || spec.side_effects,
        python_module: "switchyard".into(),
        api_node: spec.category == "cloud",
        price_badge: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_read_as_titles() {
        for (t, want) in [("image.blur", "Image Blur"), ("cloud.text_to_image", "Cloud Text To Image"), ("x", "X")] {
            assert_eq!(display_name(t), want);
        }
    }
}
