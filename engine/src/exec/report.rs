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

impl NodeStatus {
    /// The status as its summary and JSON name it: `executed`, `cached`, `failed`, `skipped`,
    /// `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Executed => "executed",
            NodeStatus::Cached => "cached",
            NodeStatus::Failed => "failed",
            NodeStatus::Skipped => "skipped",
            NodeStatus::Cancelled => "cancelled",
        }
    }
}

/// One node's line in the summary: 64 bytes, since a report may hold a million lines and
/// most have no error, file or metering (those sit in [`NodeDetail`]).
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
    /// Its error, files and metering, where it has any.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<NodeDetail>>,
}

/// What few nodes' lines carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeDetail {
    /// Why it failed, was skipped or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Files it wrote.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
    /// What a paid provider metered (ids and quantities), when it executed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metering: Option<serde_json::Value>,
    /// It failed only because a service it needs could not be reached (nothing was sent or
    /// charged): a later try may succeed, and the failure counts against no machine.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
}

impl NodeReport {
    /// A line with no detail.
    pub fn new(id: NodeId, type_name: &'static str, status: NodeStatus, duration_ms: Option<u64>) -> Self {
        Self { id, type_name, status, duration_ms, detail: None }
    }

    /// The same line with `detail`, kept only where it says anything.
    pub fn with_detail(mut self, detail: NodeDetail) -> Self {
        self.detail = (detail != NodeDetail::default()).then(|| Box::new(detail));
        self
    }

    /// Why it failed, was skipped or was cancelled.
    pub fn error(&self) -> Option<&str> {
        self.detail.as_ref()?.error.as_deref()
    }

    /// Files it wrote.
    pub fn files(&self) -> &[PathBuf] {
        self.detail.as_ref().map_or(&[], |d| &d.files)
    }

    /// What a paid provider metered, when it executed.
    pub fn metering(&self) -> Option<&serde_json::Value> {
        self.detail.as_ref()?.metering.as_ref()
    }

    /// Whether it failed only because a service it needs could not be reached.
    pub fn unavailable(&self) -> bool {
        self.detail.as_ref().is_some_and(|d| d.unavailable)
    }

    /// Its detail, to fill in.
    pub fn detail_mut(&mut self) -> &mut NodeDetail {
        self.detail.get_or_insert_default()
    }
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
        self.nodes.iter().flat_map(|n| n.files().iter())
    }

    /// A kept output value.
    pub fn value(&self, node: &str, port: &str) -> Option<&Value> {
        self.values.get(&NodeId::new(node))?.iter().find(|(p, _)| *p == port).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_line_serialises_its_detail_flat_and_only_what_it_has() {
        let line =
            |status, detail: NodeDetail| NodeReport::new(NodeId::new("n"), "t", status, Some(3)).with_detail(detail);
        let cases = [
            (
                line(NodeStatus::Executed, NodeDetail::default()),
                json!({"id": "n", "type": "t", "status": "executed", "duration_ms": 3}),
            ),
            (
                line(
                    NodeStatus::Failed,
                    NodeDetail { error: Some("boom".into()), unavailable: true, ..NodeDetail::default() },
                ),
                json!({"id": "n", "type": "t", "status": "failed", "duration_ms": 3, "error": "boom", "unavailable": true}),
            ),
            (
                line(
                    NodeStatus::Executed,
                    NodeDetail {
                        files: vec!["a.png".into()],
                        metering: Some(json!({"id": "x"})),
                        ..NodeDetail::default()
                    },
                ),
                json!({"id": "n", "type": "t", "status": "executed", "duration_ms": 3, "files": ["a.png"], "metering": {"id": "x"}}),
            ),
        ];
        for (report, want) in cases {
            assert_eq!(serde_json::to_value(&report).unwrap(), want);
        }
        let bare = line(NodeStatus::Executed, NodeDetail::default());
        assert!(bare.detail.is_none(), "an empty detail is not boxed");
        assert_eq!((bare.error(), bare.files().len(), bare.metering(), bare.unavailable()), (None, 0, None, false));
    }

    #[test]
    fn a_status_reads_as_its_json_name() {
        use NodeStatus::*;
        for status in [Executed, Cached, Failed, Skipped, Cancelled] {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(status.as_str()));
        }
    }

    #[test]
    fn a_line_stays_64_bytes_since_a_report_may_hold_a_million() {
        assert!(std::mem::size_of::<NodeReport>() <= 64, "{} bytes", std::mem::size_of::<NodeReport>());
    }
}
