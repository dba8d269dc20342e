//! The saved workflow format, version 1. Its own types, converted explicitly into a runtime graph.

mod canonical;
mod fast;
mod overrides;
mod parse;
mod placement;
mod requires;
mod run_settings;
pub(crate) mod stream;

/// An object in the file: keys in the file's order, hashed with a fast seeded hasher.
pub type FileMap<V> = indexmap::IndexMap<String, V, foldhash::fast::RandomState>;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use canonical::to_canonical_text;
pub(crate) use overrides::set_param;
pub use overrides::{Override, apply_override, parse_override};
pub use parse::{MAX_FILE_BYTES, ParsedWorkflow, parse_workflow};
pub use placement::{Placement, Quality};
pub use requires::Requires;
pub use run_settings::{NodeMode, RunSettings};

/// The value of the `format` field.
pub const FORMAT_NAME: &str = "switchyard.workflow";
/// The format versions this build reads.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// A workflow file as saved: nodes, their params and wiring, and the editor's layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Switchyard workflow", extend("$id" = "switchyard.workflow.v1"))]
pub struct WorkflowFile {
    /// Always `switchyard.workflow`.
    #[schemars(extend("const" = "switchyard.workflow"))]
    pub format: String,
    /// The format version; this build reads 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// A short name for the workflow.
    #[serde(default)]
    pub name: String,
    /// One line on what it makes.
    #[serde(default)]
    pub description: String,
    /// The nodes, keyed by node id (letters, digits, `_` and `-`), in the file's order.
    pub nodes: FileMap<NodeEntry>,
    /// Defaults for a run of this file (policy, budget, deadline, routes); flags win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSettings>,
    /// Editor layout only (positions, colours); never affects execution or cache keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<serde_json::Map<String, serde_json::Value>>,
}

impl WorkflowFile {
    /// What one machine needs to run the whole graph: the union of its nodes' `requires`.
    pub fn requires(&self) -> Result<Requires, String> {
        Requires::union(self.nodes.iter().filter_map(|(id, n)| n.requires.as_ref().map(|r| (id.as_str(), r))))
    }
}

/// One node in the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// The node type, such as `image.blur`; `switchyard nodes` lists them.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Widget values by param name; omitted params take their defaults.
    #[serde(default, skip_serializing_if = "FileMap::is_empty")]
    pub params: FileMap<serde_json::Value>,
    /// Wires by input name: `"<node>.<output port>"`, or a list of them for list inputs.
    /// An input named after a param drives that param from an upstream value.
    #[serde(default, skip_serializing_if = "FileMap::is_empty")]
    pub inputs: FileMap<InputRef>,
    /// Where a node that can run in the cloud may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Draft or final, for the `local-first` policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// What a machine must have to run it (a farm gives it only to workers that do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Requires>,
    /// `bypass` (pass inputs through) or `mute` (leave out); runs when absent.
    #[serde(default, skip_serializing_if = "NodeMode::is_always")]
    pub mode: NodeMode,
}

/// The source(s) of one input.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum InputRef {
    /// One wire: `"<node>.<output port>"`.
    One(String),
    /// Several wires, for a list input.
    Many(Vec<String>),
}

impl InputRef {
    /// The wires as a slice.
    pub fn sources(&self) -> &[String] {
        match self {
            InputRef::One(s) => std::slice::from_ref(s),
            InputRef::Many(v) => v,
        }
    }
}

/// The JSON Schema of the format, as `switchyard schema` prints it.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkflowFile)).unwrap_or_default()
}

/// Reads a wire or a list of wires directly; serde's untagged enums buffer every value first,
/// which made large files several times slower to read.
impl<'de> Deserialize<'de> for InputRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Wires;
        impl<'de> serde::de::Visitor<'de> for Wires {
            type Value = InputRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a wire \"<node>.<port>\" or a list of them")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<InputRef, E> {
                Ok(InputRef::One(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<InputRef, E> {
                Ok(InputRef::One(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<InputRef, A::Error> {
                let mut wires = Vec::new();
                while let Some(w) = seq.next_element::<String>()? {
                    wires.push(w);
                }
                Ok(InputRef::Many(wires))
            }
        }
        d.deserialize_any(Wires)
    }
}
