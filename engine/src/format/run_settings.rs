//! The run settings a workflow file may carry: the defaults `switchyard run` (and the editor)
//! use for policy, budget, deadline and routes. The command line wins over them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `"run": {...}` in a workflow file. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// The placement policy: `cheapest`, `fastest`, `greenest`, `brand:nvidia`,
    /// `local-first` or `local-first:POLICY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The most credits one run may spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub budget: Option<i64>,
    /// The latest the graph should finish, such as `5m` or `90s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Routing terms to allow (`economy`, `green`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

impl RunSettings {
    /// Whether nothing is set (such a section is not written).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How a node takes part in a run, as ComfyUI's node modes do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeMode {
    /// Runs.
    #[default]
    Always,
    /// Does not run: each output passes on the node's first wired input of the same type.
    Bypass,
    /// Does not run, and nothing passes through: what needs its outputs must be muted too.
    Mute,
}

impl NodeMode {
    /// Whether the node runs (such a mode is not written).
    pub fn is_always(&self) -> bool {
        *self == NodeMode::Always
    }
}
