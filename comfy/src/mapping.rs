//! The mapping from ComfyUI node types to Switchyard's, read from `mapping.toml` (data, not
//! code): which node type, which inputs become ports and which params, value maps, and the
//! values Switchyard cannot honour.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The mapping that ships with Switchyard.
pub const MAPPING_TOML: &str = include_str!("../mapping.toml");

/// Every mapped ComfyUI node type, and the nearest Switchyard node for some that are not.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// By ComfyUI class type.
    #[serde(default)]
    pub node: BTreeMap<String, NodeMap>,
    /// ComfyUI class type -> the nearest Switchyard node type, for those with no equivalent.
    #[serde(default)]
    pub nearest: BTreeMap<String, String>,
}

/// How one ComfyUI node type becomes a Switchyard node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeMap {
    /// The Switchyard node type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Widget inputs in ComfyUI's order (`$control`: a seed's control-after-generate entry).
    #[serde(default)]
    pub widgets: Vec<String>,
    /// Other widget orders, chosen by the value of the widget at `widgets_by.at` (a node whose
    /// widgets depend on its model: ComfyUI's dynamic combos).
    #[serde(default)]
    pub widgets_by: Option<WidgetsBy>,
    /// Link inputs -> Switchyard input ports.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Widget inputs -> Switchyard params.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Output index -> Switchyard output port (or a `derive` entry).
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Inputs dropped knowingly.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Fixed Switchyard params.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// The node is a value: links from it inline this input's value.
    #[serde(default)]
    pub constant: Option<String>,
    /// The constant is a file name: its stem is used.
    #[serde(default)]
    pub stem: bool,
    /// Per input, ComfyUI value -> Switchyard value (a Kling duration's `"5"` -> 5).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// Per input, the only values Switchyard can honour.
    #[serde(default)]
    pub only: BTreeMap<String, Vec<toml::Value>>,
    /// Per param, a text template (`{}` is the value).
    #[serde(default)]
    pub format: BTreeMap<String, String>,
    /// Per "WxH" (or aspect ratio "W:H") input, the width and height params.
    #[serde(default)]
    pub size: BTreeMap<String, [String; 2]>,
    /// Per input, the node type to use while that input is linked.
    #[serde(default)]
    pub when_linked: BTreeMap<String, String>,
    /// Values an export gives ComfyUI inputs that Switchyard does not keep (ComfyUI requires
    /// them); an input with one allowed value (`only`) gets that value anyway.
    #[serde(default)]
    pub fill: BTreeMap<String, toml::Value>,
    /// Output index -> the input it passes through (a save node's `images` out): a link
    /// from that output is a link from what feeds the input.
    #[serde(default)]
    pub passthrough: BTreeMap<String, String>,
    /// Helper nodes made for outputs the main node lacks.
    #[serde(default)]
    pub derive: BTreeMap<String, Derived>,
    /// The node saves what its input's producer already writes (ComfyUI's SaveVideo after a
    /// video node): it becomes no node, and its params go onto the producer, which must be
    /// of this map's `type`.
    #[serde(default)]
    pub sink: Option<Sink>,
    /// Why something is ignored or approximated.
    #[serde(default)]
    pub note: Option<String>,
}

/// Widget orders by the value of one widget.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetsBy {
    /// The position of the widget whose value chooses.
    pub at: usize,
    /// Its value -> the widget order then.
    pub orders: BTreeMap<String, Vec<String>>,
}

impl NodeMap {
    /// The widget order of a node whose positional values are `values`.
    pub fn widget_order(&self, values: &[serde_json::Value]) -> &[String] {
        let chosen = self.widgets_by.as_ref().and_then(|by| {
            let key = values.get(by.at)?.as_str()?;
            by.orders.get(key)
        });
        chosen.unwrap_or(&self.widgets)
    }
}

/// The input a sink node saves from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sink {
    /// The input linked to the producer.
    pub input: String,
}

/// A helper node for one output.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The main node's port it takes.
    pub from: String,
    /// Its port that stands for the output.
    pub port: String,
    /// Its params.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
}

impl Mapping {
    /// The shipped mapping.
    pub fn builtin() -> Result<Self, String> {
        Self::parse(MAPPING_TOML)
    }

    /// A mapping from its TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("the ComfyUI mapping: {e}"))
    }
}

/// A TOML value as JSON.
pub fn json_of(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
