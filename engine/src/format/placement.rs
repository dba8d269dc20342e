//! Per-node placement preferences in the saved file: where a node that can run in the cloud
//! may run, after OpenRouter's provider preferences. The scheduler reads them; the engine
//! only checks they sit on nodes that can be placed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A node's placement preferences: `"placement": { "pin": "bfl:flux-2-pro", ... }`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Run here and nowhere else (`provider:model`, or `local:<model>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Try these first, in this order, before the policy's own ranking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<String>,
    /// Whether a candidate that refuses the call (before any charge) may be replaced by the
    /// next one; true when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_fallbacks: Option<bool>,
    /// The most this node may cost, in credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_credits: Option<i64>,
    /// Consider only these (`provider`, `provider:model`, or `local`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Never consider these (`provider`, `provider:model`, or `local`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

impl Placement {
    /// No preferences (the default).
    pub const NONE: Placement = Placement {
        pin: None,
        order: Vec::new(),
        allow_fallbacks: None,
        max_credits: None,
        only: Vec::new(),
        ignore: Vec::new(),
    };

    /// Whether fallbacks are allowed (the default).
    pub fn fallbacks(&self) -> bool {
        self.allow_fallbacks.unwrap_or(true)
    }
}

/// What a node's result is for: `local-first` keeps drafts on this machine and sends finals
/// to the cloud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// A draft (the default).
    #[default]
    Draft,
    /// A final render.
    Final,
}
