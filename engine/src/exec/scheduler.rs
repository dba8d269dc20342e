//! The scheduler loop: unmet-dependency counts, a ready queue, and the set of running node tasks.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use super::report::{NodeDetail, NodeReport, NodeStatus, RunReport, RunStatus};
use super::task::{self, NodeTask, Produced, TaskResult, key_hashes};
use super::{Executor, RunOptions};
use crate::cache::CacheKey;
use crate::context::{NodeContext, panic_message};
use crate::events::EventKind;
use crate::graph::{Graph, Source};
use crate::node::{NodeError, Record};
use crate::params::ParamValue;
use crate::value::Value;

/// Per-node state held only while it matters, by node index.
type LiveMap<V> = HashMap<usize, V, foldhash::fast::RandomState>;

/// Mutable bookkeeping for one run.
struct RunState<'g> {
    graph: &'g Graph,
    opts: RunOptions,
    /// Cancelled by the user's token, or by fail-fast.
    stop: CancellationToken,
    unmet: Vec<u32>,
    consumers_left: Vec<u32>,
    /// Why a node must be skipped: the first failed or skipped input. Keyed, since it is rare.
    poisoned: LiveMap<String>,
    /// Outputs some node still needs; keyed, so a run holds its frontier, not a slot per node.
    produced: LiveMap<Produced>,
    /// Each node's line of the report, once it ended (made then, so the report is not a
    /// second copy of a million ends).
    ended: Vec<Option<NodeReport>>,
    kept: HashMap<crate::ids::NodeId, Vec<(&'static str, Value)>>,
    ready: VecDeque<usize>,
    any_failed: bool,
}

pub(super) async fn run_graph(exec: &Executor, graph: &Graph, opts: RunOptions) -> RunReport {
    let started = Instant::now();
    let stop = opts.cancel.child_token();
    let mut st = RunState::new(graph, opts, stop);
    if st.opts.events.wants_queued() {
        for node in &graph.nodes {
            st.opts.events.emit(&node.id, EventKind::Queued).await;
        }
    }
    let mut running = FuturesUnordered::new();
    loop {
        while let Some(i) = st.ready.pop_front() {
            if let Some(task) = st.launch(exec, i).await {
                running.push(task.run());
            }
        }
        if running.is_empty() {
            break;
        }
        if let Some((i, result)) = running.next().await {
            st.complete(i, result, exec.config().fail_fast).await;
        }
    }
    exec.cache().flush();
    st.finish(started).await
}

impl<'g> RunState<'g> {
    fn new(graph: &'g Graph, opts: RunOptions, stop: CancellationToken) -> Self {
        let n = graph.len();
        let unmet: Vec<u32> = graph.dependencies.counts().collect();
        let ready = (0..n).filter(|&i| unmet[i] == 0).collect();
        Self {
            graph,
            opts,
            stop,
            unmet,
            consumers_left: graph.dependants.counts().collect(),
            poisoned: LiveMap::default(),
            produced: LiveMap::default(),
            ended: (0..n).map(|_| None).collect(),
            kept: HashMap::new(),
            ready,
            any_failed: false,
        }
    }

    /// Turns a ready node into a task, or ends it at once (skipped, cancelled, bad wired param).
    async fn launch(&mut self, exec: &Executor, i: usize) -> Option<NodeTask> {
        if self.stop.is_cancelled() {
            self.release_inputs(i);
            self.end(i, NodeStatus::Cancelled, None, Some("the run was cancelled".into())).await;
            return None;
        }
        if let Some(reason) = self.poisoned.remove(&i) {
            self.release_inputs(i);
            self.end(i, NodeStatus::Skipped, None, Some(reason)).await;
            return None;
        }
        let node = &self.graph.nodes[i];
        let spec = node.node.spec();
        let hashes = match self.input_hashes(i) {
            Ok(h) => h,
            Err(e) => {
                self.release_inputs(i);
                self.fail(i, e, None).await;
                return None;
            }
        };
        let key = spec.deterministic.then(|| CacheKey::compute(spec.type_name, spec.version, &node.params, &hashes));
        // Memory hits are served here, before any input value is touched: a cached re-run stays cheap.
        if let Some(k) = key
            && spec.cacheable()
            && !spec.fingerprinted
            && let Some(values) = exec.cache().get_memory(&k)
        {
            self.release_inputs(i);
            let produced = Produced { hashes: key_hashes(&k, values.len()), values };
            self.complete(i, TaskResult::Cached(produced), false).await;
            return None;
        }
        let gathered = self.gather(i);
        match gathered {
            Ok(g) if spec.instant && !spec.fingerprinted => {
                self.run_instant(exec, i, g, key).await;
                None
            }
            Ok(g) => Some(self.task(exec, i, g, key)),
            Err(e) => {
                self.fail(i, e, None).await;
                None
            }
        }
    }

    /// Runs an instant node here, on the scheduler's thread, with no task, slot, timer or
    /// cache entry (its work is smaller than any of them).
    async fn run_instant(&mut self, exec: &Executor, i: usize, g: Gathered, key: Option<CacheKey>) {
        let graph = self.graph;
        let node = &graph.nodes[i];
        self.opts.events.emit(&node.id, EventKind::Started).await;
        let ctx = NodeContext {
            node_id: node.id.clone(),
            inputs: g.inputs,
            params: g.params,
            paths: Arc::clone(&self.opts.paths),
            cancel: self.stop.clone(),
            events: self.opts.events.clone(),
            _permit: None,
            journal: None,
        };
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| node.node.run_now(&ctx)))
            .unwrap_or_else(|payload| Err(NodeError::Panicked(panic_message(payload))));
        let duration_ms = started.elapsed().as_millis() as u64;
        drop(ctx);
        let result = task::settle(&*node.node, outcome, duration_ms, key, exec.cache()).await;
        self.complete(i, result, exec.config().fail_fast).await;
    }

    /// The hashes of every wired input, wired params last, in a fixed order.
    fn input_hashes(&self, i: usize) -> Result<Vec<blake3::Hash>, NodeError> {
        let node = &self.graph.nodes[i];
        let wires =
            node.inputs.iter().flat_map(|b| b.sources.iter()).chain(node.param_inputs.iter().map(|p| &p.source));
        wires.map(|s| self.produced_of(*s).map(|p| p.hashes[s.output])).collect()
    }

    fn produced_of(&self, s: Source) -> Result<&Produced, NodeError> {
        self.produced.get(&s.node).ok_or_else(|| NodeError::Internal("an input's value was already released".into()))
    }

    /// Collects a node's input values and wired params, then frees consumed outputs.
    fn gather(&mut self, i: usize) -> Result<Gathered, NodeError> {
        let gathered = self.gather_values(i);
        self.release_inputs(i);
        gathered
    }

    fn gather_values(&self, i: usize) -> Result<Gathered, NodeError> {
        let node = &self.graph.nodes[i];
        let mut inputs = Vec::with_capacity(node.inputs.len());
        for b in &node.inputs {
            let values = b.sources.iter().map(|s| self.produced_of(*s).map(|p| p.values[s.output].clone()));
            inputs.push((b.port, values.collect::<Result<Vec<_>, _>>()?));
        }
        let mut params = Vec::with_capacity(node.params.len() + node.param_inputs.len());
        params.extend_from_slice(&node.params);
        for p in &node.param_inputs {
            let v = &self.produced_of(p.source)?.values[p.source.output];
            params.push((p.param, wired_param(node.node.spec(), p.param, v)?));
        }
        Ok(Gathered { inputs, params })
    }

    /// A task for node `i`; `key` is its cache key before any fingerprint (deterministic nodes only).
    fn task(&self, exec: &Executor, i: usize, g: Gathered, key: Option<CacheKey>) -> NodeTask {
        let node = &self.graph.nodes[i];
        let cfg = exec.config();
        NodeTask {
            index: i,
            id: node.id.clone(),
            node: Arc::clone(&node.node),
            inputs: g.inputs,
            params: g.params,
            key,
            paths: Arc::clone(&self.opts.paths),
            cancel: self.stop.child_token(),
            events: self.opts.events.clone(),
            cache: Arc::clone(exec.cache()),
            slots: Arc::clone(exec.limit(node.node.spec().resource)),
            timeout: Duration::from_millis(cfg.node_timeout_ms),
            cancel_grace: Duration::from_millis(cfg.cancel_grace_ms),
        }
    }

    /// Frees upstream outputs that no other node still needs.
    fn release_inputs(&mut self, i: usize) {
        if self.opts.keep_outputs {
            return;
        }
        for u in self.graph.dependencies.of(i) {
            self.consumers_left[u] = self.consumers_left[u].saturating_sub(1);
            if self.consumers_left[u] == 0 {
                self.produced.remove(&u);
            }
        }
    }

    async fn complete(&mut self, i: usize, result: TaskResult, fail_fast: bool) {
        match result {
            TaskResult::Cached(p) => {
                self.opts.events.emit(&self.graph.nodes[i].id, EventKind::Cached).await;
                self.preview(i, &p).await;
                self.succeed(i, p, NodeStatus::Cached, None, Record::default());
            }
            TaskResult::Executed { produced, record, duration_ms } => {
                let files = record.files.clone();
                self.opts.events.emit(&self.graph.nodes[i].id, EventKind::Finished { duration_ms, files }).await;
                self.preview(i, &produced).await;
                self.succeed(i, produced, NodeStatus::Executed, Some(duration_ms), record);
            }
            TaskResult::Failed { error, duration_ms } => {
                self.fail(i, error, duration_ms).await;
                if fail_fast && self.any_failed {
                    self.stop.cancel();
                }
            }
        }
    }

    /// Sends a preview of each of node `i`'s image outputs, if the sink wants them.
    async fn preview(&self, i: usize, p: &Produced) {
        let Some(previewer) = self.opts.events.previewer() else { return };
        let node = &self.graph.nodes[i];
        for (value, out) in p.values.iter().zip(&node.node.spec().outputs) {
            if let Some(picture) = (previewer.0)(value) {
                let kind = EventKind::Preview { port: out.name.to_string(), picture: std::sync::Arc::new(picture) };
                self.opts.events.emit(&node.id, kind).await;
            }
        }
    }

    fn succeed(&mut self, i: usize, p: Produced, status: NodeStatus, duration_ms: Option<u64>, record: Record) {
        if self.opts.keep_outputs {
            let spec = self.graph.nodes[i].node.spec();
            let named = spec.outputs.iter().zip(p.values.iter()).map(|(o, v)| (o.name, v.clone())).collect();
            self.kept.insert(self.graph.nodes[i].id.clone(), named);
        }
        if self.graph.dependants.of(i).len() > 0 {
            self.produced.insert(i, p);
        }
        self.ended[i] = Some(self.report(i, status, duration_ms, None, record));
        self.release_dependants(i, None);
    }

    async fn fail(&mut self, i: usize, error: NodeError, duration_ms: Option<u64>) {
        let status = if matches!(error, NodeError::Cancelled) && self.stop.is_cancelled() {
            NodeStatus::Cancelled
        } else {
            self.any_failed = true;
            NodeStatus::Failed
        };
        let message = error.to_string();
        let id = self.graph.nodes[i].id.clone();
        self.end(i, status, duration_ms, Some(message)).await;
        match (error, self.ended[i].as_mut()) {
            // Remote work done before a local failure keeps its record: it was paid for.
            (NodeError::AfterRemoteWork { metering, .. }, Some(ended)) => ended.detail_mut().metering = Some(*metering),
            (NodeError::Unavailable(_), Some(ended)) => ended.detail_mut().unavailable = true,
            _ => {}
        }
        if status == NodeStatus::Failed {
            self.release_dependants(i, Some(format!("input node {:?} failed", id.as_str())));
        }
    }

    /// Records a final status that produced nothing, and passes the reason on to dependants.
    async fn end(&mut self, i: usize, status: NodeStatus, duration_ms: Option<u64>, error: Option<String>) {
        let id = self.graph.nodes[i].id.clone();
        let event = match status {
            NodeStatus::Failed => EventKind::Failed { message: error.clone().unwrap_or_default() },
            NodeStatus::Skipped => EventKind::Skipped { reason: error.clone().unwrap_or_default() },
            _ => EventKind::Cancelled,
        };
        self.opts.events.emit(&id, event).await;
        self.ended[i] = Some(self.report(i, status, duration_ms, error.clone(), Record::default()));
        if status != NodeStatus::Failed {
            let reason = format!(
                "input node {:?} was {}",
                id.as_str(),
                if status == NodeStatus::Skipped { "skipped" } else { "cancelled" }
            );
            self.release_dependants(i, Some(reason));
        }
    }

    fn report(
        &self,
        i: usize,
        status: NodeStatus,
        duration_ms: Option<u64>,
        error: Option<String>,
        record: Record,
    ) -> NodeReport {
        let node = &self.graph.nodes[i];
        let detail = NodeDetail { error, files: record.files, metering: record.metering, unavailable: false };
        NodeReport::new(node.id.clone(), node.node.spec().type_name, status, duration_ms).with_detail(detail)
    }

    fn release_dependants(&mut self, i: usize, poison: Option<String>) {
        for d in self.graph.dependants.of(i) {
            if let Some(reason) = &poison {
                self.poisoned.entry(d).or_insert_with(|| reason.clone());
            }
            self.unmet[d] -= 1;
            if self.unmet[d] == 0 {
                self.ready.push_back(d);
            }
        }
    }

    async fn finish(mut self, started: Instant) -> RunReport {
        for i in 0..self.graph.len() {
            if self.ended[i].is_none() {
                let id = self.graph.nodes[i].id.clone();
                self.opts.events.emit(&id, EventKind::Cancelled).await;
                let error = Some("the run was cancelled".into());
                self.ended[i] = Some(self.report(i, NodeStatus::Cancelled, None, error, Record::default()));
            }
        }
        // Every node has ended by now; `map` (unlike `flatten`) collects in place.
        let graph = self.graph;
        let ended = self.ended.into_iter().enumerate();
        let nodes: Vec<NodeReport> = ended
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    let node = &graph.nodes[i];
                    NodeReport::new(node.id.clone(), node.node.spec().type_name, NodeStatus::Cancelled, None)
                })
            })
            .collect();
        // A user's cancel wins (exit 130); fail-fast cancellations count as the failure they follow.
        let status = if self.opts.cancel.is_cancelled() {
            RunStatus::Cancelled
        } else if self.any_failed {
            RunStatus::Failed
        } else if nodes.iter().any(|n| n.status == NodeStatus::Cancelled) {
            RunStatus::Cancelled
        } else {
            RunStatus::Succeeded
        };
        RunReport {
            workflow: self.graph.name.clone(),
            item: self.opts.paths.item.clone(),
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            nodes,
            values: self.kept,
        }
    }
}

struct Gathered {
    inputs: Vec<(&'static str, Vec<Value>)>,
    params: Vec<(&'static str, ParamValue)>,
}

/// Turns an upstream value into a param value, checked against the param's kind.
fn wired_param(spec: &crate::node::NodeSpec, name: &str, v: &Value) -> Result<ParamValue, NodeError> {
    let ps = spec.param_spec(name).ok_or_else(|| NodeError::Internal(format!("param {name:?} is not declared")))?;
    let raw = match v {
        Value::Int(n) => ParamValue::Int(*n),
        Value::Float(f) => ParamValue::Float(*f),
        Value::Bool(b) => ParamValue::Bool(*b),
        Value::Text(t) => ParamValue::Text(Arc::clone(t)),
        other => return Err(NodeError::Invalid(format!("param {name:?} cannot take {}", other.port_type()))),
    };
    ps.kind.check(raw).map_err(|msg| NodeError::Invalid(format!("wired param {name:?}: {msg}")))
}
