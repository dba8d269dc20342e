//! What a run reports when it ends: a status per node, and the run's outcome.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::ids::NodeId;
use crate::value::Value;

/// How one node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Ran and succeeded.
    Executed,
    /// Served from the cache.
    Cached,
    /// Failed, errored, timed out or panicked.
    Failed,
    /// Not run because an input failed.
    Skipped,
    /// Not run, or stopped, because the run was cancelled.
    Cancelled,
}

/// One node's line in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    /// The node id.
    pub id: NodeId,
    /// The node type.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// How it ended.
    pub status: NodeStatus,
    /// Wall time when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why it failed, was skipped or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Files it wrote.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
    /// What a paid provider metered (ids and quantities), when it executed; boxed, since
    /// few nodes have one and a report may hold a million lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metering: Option<Box<serde_json::Value>>,
    /// It failed only because a service it needs could not be reached (nothing was sent or
    /// charged): a later try may succeed, and the failure counts against no machine.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
}

/// How the whole run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every node executed or was served from the cache.
    Succeeded,
    /// At least one node failed.
    Failed,
    /// The run was cancelled.
    Cancelled,
}

/// The summary of one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The workflow's name.
    pub workflow: String,
    /// The batch item, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Every node, in topological order.
    pub nodes: Vec<NodeReport>,
    /// Output values by node, when the run kept them (`RunOptions::keep_outputs`).
    #[serde(skip)]
    pub values: HashMap<NodeId, Vec<(&'static str, Value)>>,
}

impl RunReport {
    /// How many nodes ended with `status`.
    pub fn count(&self, status: NodeStatus) -> usize {
        self.nodes.iter().filter(|n| n.status == status).count()
    }

    /// The report of one node.
    pub fn node(&self, id: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.id.as_str() == id)
    }

    /// Every file written.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.nodes.iter().flat_map(|n| n.files.iter())
    }

    /// A kept output value.
    pub fn value(&self, node: &str, port: &str) -> Option<&Value> {
        self.values.get(&NodeId::new(node))?.iter().find(|(p, _)| *p == port).map(|(_, v)| v)
    }
}
