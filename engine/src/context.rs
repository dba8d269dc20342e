//! What a running node sees: its inputs, params, paths, progress and cancellation.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, EventSink};
use crate::ids::NodeId;
use crate::node::{NodeError, NodeFuture, Outputs};
use crate::params::ParamValue;
use crate::paths::PathRoots;
use crate::value::{Image, Mask, Value};

/// The inputs, params and services handed to one node run.
pub struct NodeContext {
    pub(crate) node_id: NodeId,
    pub(crate) inputs: Vec<(&'static str, Vec<Value>)>,
    pub(crate) params: Vec<(&'static str, ParamValue)>,
    pub(crate) paths: Arc<PathRoots>,
    pub(crate) cancel: CancellationToken,
    pub(crate) events: EventSink,
    /// Held until the node's work ends, so a timed-out blocking task still counts against its limit.
    pub(crate) _permit: Option<OwnedSemaphorePermit>,
    /// Where a remote call's intent is written before it goes out (set by a wrapper).
    pub(crate) journal: Option<Arc<dyn CallJournal>>,
}

/// A boxed future of a journal write.
pub type JournalFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where a node that calls a remote service writes, durably, that a call which may do paid
/// work is about to go out, and the remote id once the service names it. Whoever wraps the
/// node (billing) sets it, so a crash between the call and its settlement is never taken
/// for a call that was never made. A node that cannot write its intent must not send.
pub trait CallJournal: Send + Sync {
    /// The call is about to be sent.
    fn sending(&self) -> JournalFuture<'_>;
    /// The service named the call (a request or task id).
    fn identified<'a>(&'a self, remote_id: &'a str) -> JournalFuture<'a>;
}

impl NodeContext {
    /// Builds a context outside an executor, for testing a node on its own.
    pub fn standalone(
        node_id: &str,
        inputs: Vec<(&'static str, Vec<Value>)>,
        params: Vec<(&'static str, ParamValue)>,
        paths: PathRoots,
    ) -> Self {
        Self {
            node_id: NodeId::new(node_id),
            inputs,
            params,
            paths: Arc::new(paths),
            cancel: CancellationToken::new(),
            events: EventSink::none(),
            _permit: None,
            journal: None,
        }
    }

    /// A context for running the node again with one param replaced (a fallback to another
    /// provider). It shares the inputs (values are reference-counted) and holds no slot: the
    /// original context keeps it.
    pub fn with_param(&self, name: &'static str, value: ParamValue) -> Self {
        let mut params = self.params.clone();
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => params.push((name, value)),
        }
        Self {
            node_id: self.node_id.clone(),
            inputs: self.inputs.clone(),
            params,
            paths: Arc::clone(&self.paths),
            cancel: self.cancel.clone(),
            events: self.events.clone(),
            _permit: None,
            journal: self.journal.clone(),
        }
    }

    /// The same context writing remote calls' intent to `journal`.
    pub fn with_journal(mut self, journal: Arc<dyn CallJournal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Where remote calls' intent is written, if anywhere.
    pub fn journal(&self) -> Option<&Arc<dyn CallJournal>> {
        self.journal.as_ref()
    }

    /// Every param value, in spec order (wired ones included once their values arrive).
    pub fn params(&self) -> &[(&'static str, ParamValue)] {
        &self.params
    }

    /// This node's id in the workflow.
    pub fn node_id(&self) -> &NodeId {
        &self.node_id
    }

    /// The values wired to an input port; empty when an optional port is unwired.
    pub fn inputs(&self, port: &str) -> &[Value] {
        self.inputs.iter().find(|(p, _)| *p == port).map_or(&[], |(_, v)| v.as_slice())
    }

    /// The single value of a required input port.
    pub fn input(&self, port: &str) -> Result<&Value, NodeError> {
        self.inputs(port).first().ok_or_else(|| NodeError::Internal(format!("input {port:?} has no value")))
    }

    /// The image on an input port.
    pub fn image(&self, port: &str) -> Result<&Image, NodeError> {
        as_image(port, self.input(port)?)
    }

    /// Every image on a list input port.
    pub fn images(&self, port: &str) -> Result<Vec<&Image>, NodeError> {
        self.inputs(port).iter().map(|v| as_image(port, v)).collect()
    }

    /// The mask on an input port.
    pub fn mask(&self, port: &str) -> Result<&Mask, NodeError> {
        match self.input(port)? {
            Value::Mask(m) => Ok(m),
            other => Err(wrong_type(port, "mask", other)),
        }
    }

    /// The params, typed by name.
    pub fn param_list(&self) -> ParamList<'_> {
        ParamList(&self.params)
    }

    /// An integer (or seed) param.
    pub fn int(&self, name: &str) -> Result<i64, NodeError> {
        self.param_list().int(name)
    }

    /// A float param; integers widen.
    pub fn float(&self, name: &str) -> Result<f64, NodeError> {
        self.param_list().float(name)
    }

    /// A boolean param.
    pub fn bool(&self, name: &str) -> Result<bool, NodeError> {
        self.param_list().bool(name)
    }

    /// A text, choice or path param.
    pub fn text(&self, name: &str) -> Result<&str, NodeError> {
        self.param_list().text(name)
    }

    /// The folders that relative paths resolve against.
    pub fn paths(&self) -> &PathRoots {
        &self.paths
    }

    /// Reports progress as `value` out of `max`. Lossy under load: progress never blocks a node.
    pub fn progress(&self, value: u64, max: u64) {
        self.events.try_emit(&self.node_id, EventKind::Progress { value, max });
    }

    /// Whether the run was cancelled or this node timed out.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Returns `Err(Cancelled)` once cancelled; call it between chunks of long work.
    pub fn check_cancelled(&self) -> Result<(), NodeError> {
        if self.cancel.is_cancelled() { Err(NodeError::Cancelled) } else { Ok(()) }
    }

    /// The token async nodes select on, to stop a request when cancelled.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }
}

fn as_image<'a>(port: &str, value: &'a Value) -> Result<&'a Image, NodeError> {
    match value {
        Value::Image(i) => Ok(i),
        other => Err(wrong_type(port, "image", other)),
    }
}

fn wrong_type(port: &str, expected: &str, got: &Value) -> NodeError {
    NodeError::Internal(format!("input {port:?} expected {expected}, got {}", got.port_type()))
}

/// Runs synchronous work on tokio's blocking pool. A panic in `work` becomes `NodeError::Panicked`.
///
/// The context, and with it the node's concurrency permit, lives until `work` returns.
pub fn run_blocking<F>(ctx: NodeContext, work: F) -> NodeFuture
where
    F: FnOnce(&NodeContext) -> Result<Outputs, NodeError> + Send + 'static,
{
    Box::pin(async move {
        match tokio::task::spawn_blocking(move || work(&ctx)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(NodeError::Panicked(panic_message(e.into_panic()))),
            Err(_) => Err(NodeError::Cancelled),
        }
    })
}

/// The text of a panic payload.
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// A node's resolved params, read by name and type: what a running node's context reads, and
/// what a quote can read before anything runs.
#[derive(Clone, Copy, Debug)]
pub struct ParamList<'a>(pub &'a [(&'static str, ParamValue)]);

impl<'a> ParamList<'a> {
    fn get(&self, name: &str) -> Result<&'a ParamValue, NodeError> {
        let found = self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        found.ok_or_else(|| NodeError::Internal(format!("param {name:?} has no value")))
    }

    /// An integer (or seed) param.
    pub fn int(&self, name: &str) -> Result<i64, NodeError> {
        match self.get(name)? {
            ParamValue::Int(v) => Ok(*v),
            other => Err(NodeError::Internal(format!("param {name:?} is {}, not an integer", other.kind_name()))),
        }
    }

    /// A float param; integers widen.
    pub fn float(&self, name: &str) -> Result<f64, NodeError> {
        match self.get(name)? {
            ParamValue::Float(v) => Ok(*v),
            ParamValue::Int(v) => Ok(*v as f64),
            other => Err(NodeError::Internal(format!("param {name:?} is {}, not a number", other.kind_name()))),
        }
    }

    /// A boolean param.
    pub fn bool(&self, name: &str) -> Result<bool, NodeError> {
        match self.get(name)? {
            ParamValue::Bool(v) => Ok(*v),
            other => Err(NodeError::Internal(format!("param {name:?} is {}, not a boolean", other.kind_name()))),
        }
    }

    /// A text, choice or path param.
    pub fn text(&self, name: &str) -> Result<&'a str, NodeError> {
        match self.get(name)? {
            ParamValue::Text(v) => Ok(v),
            other => Err(NodeError::Internal(format!("param {name:?} is {}, not text", other.kind_name()))),
        }
    }
}
