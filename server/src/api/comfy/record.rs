//! A prompt's record as ComfyUI's clients read it: its queue entry, its outputs by ComfyUI
//! node, how it ended. Shared by `/history`, `/queue`, `/jobs` and the socket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use switchyard_engine::Registry;
use switchyard_engine::format::WorkflowFile;

use crate::App;
use crate::store::{PromptRow, RunRow};

/// A run's summary as the queue stores it, read for what ComfyUI shows.
#[derive(Debug, Default, Deserialize)]
struct Summary {
    #[serde(default)]
    reports: Vec<Report>,
}

#[derive(Debug, Deserialize)]
struct Report {
    #[serde(default)]
    nodes: Vec<NodeReport>,
}

#[derive(Debug, Deserialize)]
struct NodeReport {
    id: String,
    #[serde(rename = "type")]
    type_name: String,
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    files: Vec<PathBuf>,
}

/// A file as ComfyUI names one: `/view?filename&subfolder&type` fetches it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FileRef {
    pub filename: String,
    pub subfolder: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// One node's outputs, by kind.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct NodeOutput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<FileRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<FileRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub video: Vec<FileRef>,
}

impl NodeOutput {
    pub(crate) fn count(&self) -> usize {
        self.images.len() + self.audio.len() + self.video.len()
    }
}

/// The first node that failed: its ComfyUI id and type, and why.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub node: String,
    pub class_type: String,
    pub message: String,
}

/// A prompt and its run, read for ComfyUI.
pub(crate) struct Record {
    pub prompt: PromptRow,
    pub run: RunRow,
    /// Switchyard node id -> ComfyUI node id.
    pub origin: BTreeMap<String, String>,
    /// The prompt as posted.
    pub api: IndexMap<String, switchyard_session::comfy::ApiNode>,
    /// The run's node reports, read once from its summary.
    nodes: Vec<NodeReport>,
}

/// The ComfyUI nodes of a translated prompt that are outputs: those whose Switchyard node
/// writes files or has no outputs.
pub(crate) fn output_nodes(
    registry: &Registry,
    workflow: &WorkflowFile,
    origin: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut outputs: Vec<String> = Vec::new();
    for (id, node) in &workflow.nodes {
        let Some(t) = registry.get(&node.type_name) else { continue };
        let Some(comfy) = origin.get(id.as_str()) else { continue };
        if (t.spec().outputs.is_empty() || t.spec().side_effects) && !outputs.contains(comfy) {
            outputs.push(comfy.clone());
        }
    }
    outputs
}

/// What kind of output a file is, by its extension.
fn kind_of(name: &str) -> Option<&'static str> {
    let ext = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" | "webp" | "exr" | "tif" | "tiff" | "bmp" | "gif" => Some("images"),
        "wav" | "mp3" | "flac" | "ogg" | "m4a" => Some("audio"),
        "mp4" | "webm" | "mov" | "mkv" => Some("video"),
        _ => None,
    }
}

/// A run's file `name` (its path under the run's folder) as ComfyUI names it: the run id is
/// the subfolder's first part, so names never collide between runs.
pub(crate) fn file_ref(run: &str, name: &str) -> FileRef {
    let path = Path::new(name);
    let filename = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = path.parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let subfolder = if parent.is_empty() { run.to_string() } else { format!("{run}/{parent}") };
    FileRef { filename, subfolder, kind: "output" }
}

impl Record {
    pub(crate) fn new(prompt: PromptRow, run: RunRow) -> Self {
        let origin = serde_json::from_str(&prompt.origin).unwrap_or_default();
        let api = serde_json::from_str(&prompt.prompt).unwrap_or_default();
        let summary: Summary = run.summary.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        let nodes = summary.reports.into_iter().flat_map(|r| r.nodes).collect();
        Self { prompt, run, origin, api, nodes }
    }

    /// The ComfyUI node a Switchyard node came from (itself if unknown).
    pub(crate) fn comfy_id<'a>(&'a self, node: &'a str) -> &'a str {
        self.origin.get(node).map_or(node, String::as_str)
    }

    /// The ComfyUI type of a ComfyUI node of the prompt.
    pub(crate) fn class_type(&self, comfy: &str) -> String {
        self.api.get(comfy).map(|n| n.class_type.clone()).unwrap_or_default()
    }

    /// The files each ComfyUI node wrote, in the order they ran.
    pub(crate) fn outputs(&self, app: &App) -> IndexMap<String, NodeOutput> {
        let folder = app.data.join("runs").join(&self.run.id);
        let mut outputs: IndexMap<String, NodeOutput> = IndexMap::new();
        for node in &self.nodes {
            for file in &node.files {
                let name = file.strip_prefix(&folder).unwrap_or(file).to_string_lossy().into_owned();
                let Some(kind) = kind_of(&name) else { continue };
                let entry = outputs.entry(self.comfy_id(&node.id).to_string()).or_default();
                let list = match kind {
                    "images" => &mut entry.images,
                    "audio" => &mut entry.audio,
                    _ => &mut entry.video,
                };
                list.push(file_ref(&self.run.id, &name));
            }
        }
        outputs
    }

    /// The first node that failed, if one did.
    pub(crate) fn failure(&self) -> Option<Failure> {
        let failed = self.nodes.iter().find(|n| n.status == "failed");
        match failed {
            Some(n) => {
                let node = self.comfy_id(&n.id).to_string();
                let class_type =
                    Some(self.class_type(&node)).filter(|c| !c.is_empty()).unwrap_or_else(|| n.type_name.clone());
                Some(Failure { node, class_type, message: n.error.clone().unwrap_or_default() })
            }
            None if self.run.state == "failed" => Some(Failure {
                node: String::new(),
                class_type: String::new(),
                message: self.run.error.clone().unwrap_or_else(|| "the run failed".into()),
            }),
            None => None,
        }
    }

    /// The ComfyUI nodes that ran or came from the cache.
    pub(crate) fn executed(&self) -> Vec<String> {
        let mut done: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.status == "succeeded" || n.status == "cached")
            .map(|n| self.comfy_id(&n.id).to_string())
            .collect();
        done.dedup();
        done
    }

    /// The output nodes (ComfyUI's `outputs_to_execute`).
    pub(crate) fn outputs_to_execute(&self, app: &App) -> Vec<String> {
        match serde_json::from_str::<WorkflowFile>(&self.run.workflow) {
            Ok(workflow) => output_nodes(&app.registry, &workflow, &self.origin),
            Err(_) => Vec::new(),
        }
    }

    /// The queue entry: `[number, prompt_id, prompt, extra_data, outputs_to_execute]`.
    pub(crate) fn queue_entry(&self, app: &App) -> Value {
        let prompt: Value = serde_json::from_str(&self.prompt.prompt).unwrap_or_default();
        let extra: Value = serde_json::from_str(&self.prompt.extra_data).unwrap_or_default();
        json!([self.prompt.number, self.prompt.prompt_id, prompt, extra, self.outputs_to_execute(app)])
    }

    /// The error event's data, as ComfyUI sends `execution_error`.
    pub(crate) fn error_data(&self, failure: &Failure) -> Value {
        json!({
            "prompt_id": self.prompt.prompt_id,
            "timestamp": self.run.finished_at_ms.unwrap_or_default(),
            "node_id": failure.node,
            "node_type": failure.class_type,
            "executed": self.executed(),
            "exception_message": failure.message,
            "exception_type": "SwitchyardError",
            "traceback": [],
            "current_inputs": {},
            "current_outputs": {},
        })
    }

    /// ComfyUI's `status` of an ended prompt: how it ended and its events.
    pub(crate) fn status(&self) -> Value {
        let id = &self.prompt.prompt_id;
        let start = json!(["execution_start", { "prompt_id": id, "timestamp": self.run.started_at_ms }]);
        let end_at = self.run.finished_at_ms.unwrap_or_default();
        let (status_str, end) = match self.run.state.as_str() {
            "succeeded" => ("success", json!(["execution_success", { "prompt_id": id, "timestamp": end_at }])),
            "cancelled" => ("error", json!(["execution_interrupted", { "prompt_id": id, "timestamp": end_at }])),
            _ => {
                let failure = self.failure().unwrap_or(Failure {
                    node: String::new(),
                    class_type: String::new(),
                    message: "the run failed".into(),
                });
                ("error", json!(["execution_error", self.error_data(&failure)]))
            }
        };
        json!({ "status_str": status_str, "completed": self.run.state == "succeeded", "messages": [start, end] })
    }

    /// The `/history` entry of an ended prompt.
    pub(crate) fn history(&self, app: &App) -> Value {
        let outputs = self.outputs(app);
        let meta: IndexMap<&String, Value> = outputs
            .keys()
            .map(|id| (id, json!({ "node_id": id, "display_node": id, "parent_node": null, "real_node_id": id })))
            .collect();
        json!({
            "prompt": self.queue_entry(app),
            "outputs": outputs,
            "status": self.status(),
            "meta": meta,
        })
    }
}
