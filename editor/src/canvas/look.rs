//! What the canvas shows besides the file: the latest quote, validation problems, each
//! node's run state and its preview.

use std::collections::{HashMap, HashSet};

use egui::{Color32, TextureHandle};
use switchyard_engine::format::{InputRef, WorkflowFile};
use switchyard_engine::{Diagnostic, Event, EventKind};

use crate::work::GraphQuote;

/// A node's state in the current or last run.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeRun {
    /// Waiting for inputs or a slot.
    Queued,
    /// Running; with progress when the node reports it.
    Running(Option<(u64, u64)>),
    /// Served from the cache.
    Cached,
    /// Finished, in this many milliseconds.
    Done(u64),
    /// Failed, with the message.
    Failed(String),
    /// Not run because an input failed, with why.
    Skipped(String),
    /// Stopped or never started because the run was cancelled.
    Cancelled,
}

impl NodeRun {
    /// The state in one word or two, as the node header shows it.
    pub fn word(&self) -> String {
        match self {
            NodeRun::Queued => "queued".into(),
            NodeRun::Running(Some((v, m))) if *m > 0 => format!("running {}%", v * 100 / m),
            NodeRun::Running(_) => "running".into(),
            NodeRun::Cached => "cached".into(),
            NodeRun::Done(ms) => format!("done {ms} ms"),
            NodeRun::Failed(_) => "failed".into(),
            NodeRun::Skipped(_) => "skipped".into(),
            NodeRun::Cancelled => "cancelled".into(),
        }
    }

    /// The state's colour, for the header and the node's outline.
    pub fn color(&self) -> Color32 {
        match self {
            NodeRun::Queued => Color32::GRAY,
            NodeRun::Running(_) => Color32::from_rgb(90, 160, 255),
            NodeRun::Cached => Color32::from_rgb(80, 200, 200),
            NodeRun::Done(_) => Color32::from_rgb(90, 200, 110),
            NodeRun::Failed(_) => Color32::from_rgb(240, 90, 90),
            NodeRun::Skipped(_) => Color32::from_rgb(230, 160, 60),
            NodeRun::Cancelled => Color32::from_rgb(200, 180, 80),
        }
    }

    /// The state an engine event puts a node in; `None` for events that change no state
    /// (previews).
    pub fn from_event(kind: &EventKind) -> Option<Self> {
        Some(match kind {
            EventKind::Queued => NodeRun::Queued,
            EventKind::Started => NodeRun::Running(None),
            EventKind::Progress { value, max } => NodeRun::Running(Some((*value, *max))),
            EventKind::Cached => NodeRun::Cached,
            EventKind::Finished { duration_ms, .. } => NodeRun::Done(*duration_ms),
            EventKind::Failed { message } => NodeRun::Failed(message.clone()),
            EventKind::Skipped { reason } => NodeRun::Skipped(reason.clone()),
            EventKind::Cancelled => NodeRun::Cancelled,
            EventKind::Preview { .. } => return None,
        })
    }
}

/// Everything drawn over the graph.
#[derive(Default)]
pub struct Look {
    /// The latest quote (or why the graph cannot be placed), for `quoted_rev`.
    pub quote: Option<Result<GraphQuote, String>>,
    /// The document revision the quote and problems are for.
    pub checked_rev: Option<u64>,
    /// Validation problems of that revision.
    pub problems: Vec<Diagnostic>,
    /// Run states by node key.
    pub runs: HashMap<String, NodeRun>,
    /// Preview textures by node key, with the source image's size.
    pub previews: HashMap<String, (TextureHandle, [u32; 2])>,
    /// A library diff drawn on the canvas: each touched node's mark and its changes.
    pub diff: HashMap<String, (switchyard_library::diff::Mark, Vec<String>)>,
    /// Files each node wrote in the last run.
    pub files: HashMap<String, Vec<std::path::PathBuf>>,
    /// Nodes whose preview is folded away.
    pub folded: HashSet<String>,
    /// Whether previews show at all (View > Previews).
    pub previews_hidden: bool,
    /// The graph as the last run ran it, to tell which previews an edit made stale.
    pub ran: Option<WorkflowFile>,
    /// Nodes whose last-run preview and files no longer match the graph.
    pub stale: HashSet<String>,
}

impl Look {
    /// Applies a run event.
    pub fn apply(&mut self, event: &Event) {
        if let EventKind::Finished { files, .. } = &event.kind {
            self.files.insert(event.node.as_str().to_string(), files.clone());
        }
        if let Some(state) = NodeRun::from_event(&event.kind) {
            self.runs.insert(event.node.as_str().to_string(), state);
        }
    }

    /// Marks stale what `current` changed since the last run: a node whose entry differs (or
    /// that is new), and everything downstream of one.
    pub fn mark_stale(&mut self, current: &WorkflowFile) {
        let Some(ran) = &self.ran else { return };
        let mut dependants: HashMap<&str, Vec<&str>> = HashMap::new();
        for (key, entry) in &current.nodes {
            for wire in entry.inputs.values().flat_map(InputRef::sources) {
                if let Some((from, _)) = wire.rsplit_once('.') {
                    dependants.entry(from).or_default().push(key);
                }
            }
        }
        let changed = current.nodes.iter().filter(|(k, e)| ran.nodes.get(*k) != Some(*e)).map(|(k, _)| k.as_str());
        let mut queue: Vec<&str> = changed.collect();
        let mut stale: HashSet<String> = queue.iter().map(|k| (*k).to_string()).collect();
        // Each node is queued once, so the walk is bounded by the graph's size.
        while let Some(key) = queue.pop() {
            for next in dependants.get(key).into_iter().flatten() {
                if stale.insert((*next).to_string()) {
                    queue.push(next);
                }
            }
        }
        self.stale = stale;
    }

    /// Whether a node's preview is drawn: previews on, this one not folded.
    pub fn preview_shown(&self, key: &str) -> bool {
        !self.previews_hidden && !self.folded.contains(key)
    }

    /// Marks the nodes `diff` touches (a removed node has no place on the canvas to mark).
    pub fn show_diff(&mut self, diff: &switchyard_library::Diff) {
        self.diff = diff
            .marks()
            .into_iter()
            .map(|(node, mark)| {
                let on = |c: &&switchyard_library::Change| c.node() == Some(node.as_str());
                let lines = diff.changes.iter().filter(on).map(ToString::to_string).collect();
                (node, (mark, lines))
            })
            .collect();
    }

    /// The colour a diff mark is drawn in.
    pub fn mark_color(mark: switchyard_library::diff::Mark) -> Color32 {
        use switchyard_library::diff::Mark;
        match mark {
            Mark::Added => Color32::from_rgb(90, 200, 110),
            Mark::Removed => Color32::from_rgb(240, 90, 90),
            Mark::Changed => Color32::from_rgb(240, 180, 60),
            Mark::Moved => Color32::from_rgb(140, 150, 220),
        }
    }

    /// A node's run state.
    pub fn run_of(&self, key: &str) -> Option<&NodeRun> {
        self.runs.get(key)
    }

    /// The problem with one param of one node, if validation found one.
    pub fn field_problem(&self, key: &str, param: &str) -> Option<String> {
        self.problems
            .iter()
            .find(|d| {
                d.node.as_deref() == Some(key)
                    && d.field.as_deref().and_then(|f| f.strip_prefix("params.")) == Some(param)
            })
            .map(problem_text)
    }

    /// A node's problems that are not about one of its params.
    pub fn node_problems(&self, key: &str) -> Vec<String> {
        let on_param = |d: &Diagnostic| d.field.as_deref().is_some_and(|f| f.starts_with("params."));
        self.problems.iter().filter(|d| d.node.as_deref() == Some(key) && !on_param(d)).map(problem_text).collect()
    }

    /// Whether validation found anything wrong with the node.
    pub fn has_problems(&self, key: &str) -> bool {
        self.problems.iter().any(|d| d.node.as_deref() == Some(key))
    }

    /// A node's preview texture.
    pub fn preview(&self, key: &str) -> Option<&TextureHandle> {
        self.previews.get(key).map(|(t, _)| t)
    }
}

/// A diagnostic as one line: what, then how to fix it. An unwired input reads as what to do
/// on the canvas ("connect an image here"), not as the file's syntax.
pub fn problem_text(d: &Diagnostic) -> String {
    if d.code == "missing-input"
        && let Some(input) = d.field.as_deref().and_then(|f| f.strip_prefix("inputs."))
    {
        let ty = d.message.split_once('(').and_then(|(_, rest)| rest.split_once(')')).map_or("a wire", |(t, _)| t);
        let article = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        return format!("connect {article} {} here (input {input:?})", ty.replace('_', " "));
    }
    match &d.help {
        Some(help) => format!("{} ({help})", d.message),
        None => d.message.clone(),
    }
}
