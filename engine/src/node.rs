//! The `Node` trait and the declarations a node type makes about itself.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::Serialize;

use crate::context::NodeContext;
use crate::params::{ParamSpec, ParamValue};
use crate::paths::PathRoots;
use crate::types::PortType;
use crate::value::Value;

/// Where a node's work runs; each class has its own concurrency limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceClass {
    /// CPU work on this machine.
    Cpu,
    /// A local accelerator (GPU or NPU), such as ONNX inference.
    LocalAccelerator,
    /// A call to a partner cloud API.
    Cloud,
}

impl ResourceClass {
    /// All classes, in a fixed order.
    pub const ALL: [ResourceClass; 3] = [ResourceClass::Cpu, ResourceClass::LocalAccelerator, ResourceClass::Cloud];

    /// A stable index, for arrays keyed by class.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A declared input port.
#[derive(Clone, Debug, Serialize)]
pub struct InputSpec {
    /// Port name.
    pub name: &'static str,
    /// The type it accepts.
    #[serde(rename = "type")]
    pub ty: PortType,
    /// Whether the node runs without it.
    pub optional: bool,
    /// How many sources it takes: 1 for a plain port, more for a list port.
    pub max_sources: usize,
    /// One line for the editor.
    pub description: &'static str,
}

/// A declared output port.
#[derive(Clone, Debug, Serialize)]
pub struct OutputSpec {
    /// Port name.
    pub name: &'static str,
    /// The type it produces.
    #[serde(rename = "type")]
    pub ty: PortType,
    /// One line for the editor.
    pub description: &'static str,
}

/// Everything a node type declares about itself: the catalog entry.
#[derive(Clone, Debug, Serialize)]
pub struct NodeSpec {
    /// Type name, such as `image.blur`.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// Category path for palettes, such as `image/filter`.
    pub category: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// Implementation version; part of every cache key.
    pub version: u32,
    /// Same inputs and params always give the same outputs.
    pub deterministic: bool,
    /// Writes outside the engine (files); never served from cache.
    pub side_effects: bool,
    /// Whether `Node::fingerprint` adds outside state (a file's content) to the cache key.
    pub fingerprinted: bool,
    /// Where the work runs.
    pub resource: ResourceClass,
    /// Its work is so small (a value, a prompt) that a task, a slot and a timer would cost
    /// more: the scheduler calls [`Node::run_now`] on its own thread instead of `run`.
    #[serde(skip)]
    pub instant: bool,
    /// Input ports.
    pub inputs: Vec<InputSpec>,
    /// Output ports.
    pub outputs: Vec<OutputSpec>,
    /// Params (widget values).
    pub params: Vec<ParamSpec>,
}

impl NodeSpec {
    /// The name people read in a palette: the type's last part in words (`image.blur` is
    /// "Blur", `cloud.text_to_image` is "Text to image"), with the family for ONNX nodes.
    pub fn display_name(&self) -> String {
        let (family, last) = self.type_name.rsplit_once('.').unwrap_or(("", self.type_name));
        let words = last.replace('_', " ");
        let mut chars = words.chars();
        let name: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
        if family == "onnx" { format!("ONNX {words}") } else { name }
    }

    /// Starts a deterministic CPU node spec with no ports or params.
    pub fn new(type_name: &'static str, category: &'static str, description: &'static str) -> Self {
        Self {
            type_name,
            category,
            description,
            version: 1,
            deterministic: true,
            side_effects: false,
            fingerprinted: false,
            resource: ResourceClass::Cpu,
            instant: false,
            inputs: Vec::new(),
            outputs: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Sets the implementation version.
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Marks the node as giving different outputs for the same inputs.
    pub fn nondeterministic(mut self) -> Self {
        self.deterministic = false;
        self
    }

    /// Marks the node as writing outside the engine.
    pub fn with_side_effects(mut self) -> Self {
        self.side_effects = true;
        self
    }

    /// Marks the node as adding outside state to its cache key.
    pub fn fingerprinted(mut self) -> Self {
        self.fingerprinted = true;
        self
    }

    /// Marks the node as doing its work at once in [`Node::run_now`].
    pub fn instant(mut self) -> Self {
        self.instant = true;
        self
    }

    /// Sets the resource class.
    pub fn resource(mut self, resource: ResourceClass) -> Self {
        self.resource = resource;
        self
    }

    /// Adds a required single-source input.
    pub fn input(mut self, name: &'static str, ty: PortType, description: &'static str) -> Self {
        self.inputs.push(InputSpec { name, ty, optional: false, max_sources: 1, description });
        self
    }

    /// Adds an optional single-source input.
    pub fn optional_input(mut self, name: &'static str, ty: PortType, description: &'static str) -> Self {
        self.inputs.push(InputSpec { name, ty, optional: true, max_sources: 1, description });
        self
    }

    /// Adds a required list input taking 1 to `max_sources` wires.
    pub fn list_input(
        mut self,
        name: &'static str,
        ty: PortType,
        max_sources: usize,
        description: &'static str,
    ) -> Self {
        self.inputs.push(InputSpec { name, ty, optional: false, max_sources, description });
        self
    }

    /// Adds an output.
    pub fn output(mut self, name: &'static str, ty: PortType, description: &'static str) -> Self {
        self.outputs.push(OutputSpec { name, ty, description });
        self
    }

    /// Adds a param.
    pub fn param(mut self, param: ParamSpec) -> Self {
        self.params.push(param);
        self
    }

    /// Whether outputs may be served from the cache: deterministic, no side effects, and not
    /// instant (an instant node's cache entry would cost more than making its value again).
    pub fn cacheable(&self) -> bool {
        self.deterministic && !self.side_effects && !self.instant
    }

    /// Finds a param by name.
    pub fn param_spec(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// What a running node gives back.
pub type NodeFuture = Pin<Box<dyn Future<Output = Result<Outputs, NodeError>> + Send>>;

/// A param value that its node refuses at validation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamProblem {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// A node type. Small on purpose: a spec and a run; everything else has a default.
pub trait Node: Send + Sync + 'static {
    /// The node's declarations.
    fn spec(&self) -> &NodeSpec;

    /// Runs the node. Heavy CPU work belongs in [`crate::run_blocking`], so the scheduler never stalls.
    fn run(&self, ctx: NodeContext) -> NodeFuture;

    /// Does the work of a node whose spec is marked `instant`, at once: no I/O, nothing that
    /// waits, nothing long. The scheduler calls it with panics caught; other nodes never are.
    fn run_now(&self, ctx: &NodeContext) -> Result<Outputs, NodeError> {
        let _ = ctx;
        Err(NodeError::Internal(format!("{} is marked instant but does no work at once", self.spec().type_name)))
    }

    /// Checks a param's value beyond its kind, at validation time: a model manifest that must
    /// exist, say. Returns what is wrong and how to fix it. Must be quick and local (no
    /// inference, no network); the default accepts every value.
    fn check_param(&self, name: &str, value: &ParamValue) -> Result<(), ParamProblem> {
        let _ = (name, value);
        Ok(())
    }

    /// Outside state that belongs in the cache key, such as a loaded file's content hash.
    /// Called on a blocking thread, and only when the spec is marked `fingerprinted`.
    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        paths: &PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        let _ = (params, paths);
        Ok(None)
    }

    /// Whether a run with these params (and no wired inputs) would reuse a result already
    /// paid for, so it costs nothing: what a quote marks "cached". `None` where the node
    /// cannot tell before it runs. Must be quick and local (a file lookup at most).
    fn kept(&self, params: &[(&'static str, ParamValue)]) -> Option<bool> {
        let _ = params;
        None
    }
}

/// What one run of a node leaves besides its values: the files it wrote and what a paid
/// provider metered, for the run report (and the ledger).
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Provider usage (ids and metered quantities), for executed cloud nodes.
    pub metering: Option<serde_json::Value>,
}

/// The values a node produced, by output port, plus any files it wrote.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub(crate) values: Vec<(&'static str, Value)>,
    pub(crate) record: Record,
}

impl Outputs {
    /// No outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the value of an output port.
    pub fn with(mut self, port: &'static str, value: Value) -> Self {
        self.values.push((port, value));
        self
    }

    /// Records a file the node wrote, for the run summary.
    pub fn with_file(mut self, path: PathBuf) -> Self {
        self.record.files.push(path);
        self
    }

    /// The value of a port, if set.
    pub fn get(&self, port: &str) -> Option<&Value> {
        self.values.iter().find(|(p, _)| *p == port).map(|(_, v)| v)
    }

    /// Every port and its value.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(p, v)| (*p, v))
    }

    /// What a provider metered, if anything.
    pub fn metering(&self) -> Option<&serde_json::Value> {
        self.record.metering.as_ref()
    }

    /// Records what a provider metered for this run (ids and quantities), for the report.
    pub fn with_metering(mut self, metering: serde_json::Value) -> Self {
        self.record.metering = Some(metering);
        self
    }

    /// The files the node wrote.
    pub fn files(&self) -> &[PathBuf] {
        &self.record.files
    }
}

/// The param of a cloud-capable node that names where it runs: `provider:model`,
/// `local:model`, or empty to be placed by the policy.
pub const PROVIDER_PARAM: &str = "provider";

/// The type-name prefix of nodes that may run on a partner cloud (`cloud.text_to_image`);
/// the rest of the name is the capability.
pub const CLOUD_PREFIX: &str = "cloud.";

/// The capability a node type serves, if it is a cloud node (`text_to_image`).
pub fn cloud_capability(type_name: &str) -> Option<&str> {
    type_name.strip_prefix(CLOUD_PREFIX)
}

/// Why a node failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// An input or param value that cannot be processed.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The node's own work failed.
    #[error("{0}")]
    Failed(String),
    /// A remote service refused the work before accepting it: nothing was done or charged,
    /// so another place may try it.
    #[error("{0}")]
    Refused(String),
    /// A remote service may have accepted the work (a reply was lost); it must not be sent
    /// again, and its outcome is for reconciliation.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// A remote service did the work (its metering record is attached), then a local step
    /// after it failed (decoding, writing the file). The work is done and was paid for:
    /// whoever bills it settles it from the record, and the result is kept where the node
    /// keeps results, so a re-run after the fix does not pay for it again.
    #[error("{message}")]
    AfterRemoteWork {
        /// What failed locally.
        message: String,
        /// The remote call's metering record.
        metering: Box<serde_json::Value>,
    },
    /// A service the node needs (the ledger's database, say) could not be reached before
    /// any work was sent or charged: the work itself is not at fault, and a later try, here
    /// or on another machine, may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The run was cancelled while the node ran.
    #[error("cancelled")]
    Cancelled,
    /// The node panicked; the message is the panic payload.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The node ran past its time limit.
    #[error("timed out after {timeout_ms} ms; raise it with --node-timeout-ms")]
    TimedOut {
        /// The limit.
        timeout_ms: u64,
    },
    /// The node broke its contract with the engine (a missing or mistyped output).
    #[error("internal error: {0}")]
    Internal(String),
}

impl NodeError {
    /// An I/O failure on a path.
    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        NodeError::Io { path: path.into(), message: err.to_string() }
    }
}

#[cfg(test)]
mod display_name_tests {
    use super::NodeSpec;

    #[test]
    fn palette_names_read_as_words() {
        for (type_name, name) in
            [("image.blur", "Blur"), ("cloud.text_to_image", "Text to image"), ("onnx.image", "ONNX image"), ("x", "X")]
        {
            assert_eq!(NodeSpec::new(type_name, "c", "d").display_name(), name);
        }
    }
}
