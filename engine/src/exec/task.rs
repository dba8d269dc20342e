//! One node's run as a future: cache lookup, a slot in its resource class, the run itself
//! under a timeout, panic capture, output checks, and the cache write.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::cache::{Cache, CacheKey};
use crate::context::{NodeContext, panic_message};
use crate::events::{EventKind, EventSink};
use crate::ids::NodeId;
use crate::node::Record;
use crate::node::{Node, NodeError, Outputs};
use crate::params::ParamValue;
use crate::paths::PathRoots;
use crate::value::Value;

/// Output values above this size are content-hashed on a blocking thread.
const INLINE_HASH_MAX_BYTES: usize = 64 * 1024;

/// Everything one node run needs, gathered by the scheduler.
pub(super) struct NodeTask {
    pub index: usize,
    pub id: NodeId,
    pub node: Arc<dyn Node>,
    pub inputs: Vec<(&'static str, Vec<Value>)>,
    pub params: Vec<(&'static str, ParamValue)>,
    /// The cache key from type, version, params and input hashes (deterministic nodes only).
    /// For nodes that are cacheable and not fingerprinted, memory was already checked.
    pub key: Option<CacheKey>,
    pub paths: Arc<PathRoots>,
    pub cancel: CancellationToken,
    pub events: EventSink,
    pub cache: Arc<Cache>,
    pub slots: Arc<Semaphore>,
    pub timeout: Duration,
    pub cancel_grace: Duration,
}

/// A node's values in output-port order, with the hash that stands for each.
pub(super) struct Produced {
    pub values: Arc<[Value]>,
    pub hashes: Vec<blake3::Hash>,
}

/// How a node task ended.
pub(super) enum TaskResult {
    Cached(Produced),
    Executed { produced: Produced, record: Record, duration_ms: u64 },
    Failed { error: NodeError, duration_ms: Option<u64> },
}

impl NodeTask {
    pub async fn run(self) -> (usize, TaskResult) {
        let index = self.index;
        let result = match self.run_inner().await {
            Ok(r) => r,
            Err(error) => TaskResult::Failed { error, duration_ms: None },
        };
        (index, result)
    }

    async fn run_inner(mut self) -> Result<TaskResult, NodeError> {
        let spec = self.node.spec();
        let memory_checked = !spec.fingerprinted;
        let key = match (self.key, self.fingerprint().await?) {
            (Some(k), Some(fp)) => Some(k.with_fingerprint(&fp)),
            (k, _) => k,
        };
        if spec.cacheable()
            && let Some(key) = key
            && let Some(values) = self.lookup(key, memory_checked).await
        {
            return Ok(TaskResult::Cached(Produced { hashes: key_hashes(&key, values.len()), values }));
        }
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| NodeError::Internal("the executor's slots were closed".into()))?;
        if self.cancel.is_cancelled() {
            return Err(NodeError::Cancelled);
        }
        self.events.emit(&self.id, EventKind::Started).await;
        let started = Instant::now();
        let ctx = NodeContext {
            node_id: self.id.clone(),
            inputs: std::mem::take(&mut self.inputs),
            params: std::mem::take(&mut self.params),
            paths: Arc::clone(&self.paths),
            cancel: self.cancel.clone(),
            events: self.events.clone(),
            _permit: Some(permit),
            journal: None,
        };
        let outcome = guarded_run(&*self.node, ctx, &self.cancel, self.timeout, self.cancel_grace).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        Ok(settle(&*self.node, outcome, duration_ms, key, &self.cache).await)
    }

    async fn fingerprint(&self) -> Result<Option<blake3::Hash>, NodeError> {
        if !self.node.spec().fingerprinted {
            return Ok(None);
        }
        let (node, params, paths) = (Arc::clone(&self.node), self.params.clone(), Arc::clone(&self.paths));
        // Fingerprinting reads outside state (a whole input file) before the node starts, so
        // it answers to the node's timeout and the run's cancel like the node itself.
        tokio::select! {
            r = blocking(move || node.fingerprint(&params, &paths)) => r?,
            () = self.cancel.cancelled() => Err(NodeError::Cancelled),
            () = tokio::time::sleep(self.timeout) => {
                Err(NodeError::TimedOut { timeout_ms: self.timeout.as_millis() as u64 })
            }
        }
    }

    async fn lookup(&self, key: CacheKey, memory_checked: bool) -> Option<Arc<[Value]>> {
        if !memory_checked && let Some(hit) = self.cache.get_memory(&key) {
            return Some(hit);
        }
        let shared = costly(self.node.spec());
        if let Some(found) = lookup_in_place(&self.cache, &key, shared) {
            return found;
        }
        let cache = Arc::clone(&self.cache);
        blocking(move || cache.get_disk(&key, shared)).await.ok().flatten()
    }
}

/// A lookup past memory that needs no I/O off this thread: the disk cache's answer where it
/// has one in place, a miss where there is no disk cache, or `None` where only a blocking read
/// can tell.
fn lookup_in_place(cache: &Cache, key: &CacheKey, shared: bool) -> Option<Option<Arc<[Value]>>> {
    if !cache.has_disk() {
        cache.record_miss();
        return Some(None);
    }
    cache.get_disk_in_place(key, shared)
}

/// Turns what a node gave into the task's result: outputs checked against the spec, hashed,
/// and stored in the cache where the node is cacheable.
pub(super) async fn settle(
    node: &dyn Node,
    outcome: Result<Outputs, NodeError>,
    duration_ms: u64,
    key: Option<CacheKey>,
    cache: &Arc<Cache>,
) -> TaskResult {
    let failed = |error| TaskResult::Failed { error, duration_ms: Some(duration_ms) };
    let (values, record) = match outcome.and_then(|o| order_outputs(node, o)) {
        Ok(o) => o,
        Err(error) => return failed(error),
    };
    let hashes = match key {
        Some(k) => key_hashes(&k, values.len()),
        None => match content_hashes(&values).await {
            Ok(h) => h,
            Err(error) => return failed(error),
        },
    };
    let spec = node.spec();
    if spec.cacheable()
        && let Some(key) = key
    {
        store(cache, key, &values, costly(spec)).await;
    }
    TaskResult::Executed { produced: Produced { values, hashes }, record, duration_ms }
}

/// Keeps a node's outputs in memory and, where there is one, on disk (`shared`: in the
/// shared tier too). A small entry packed on disk is answered from there in place, so
/// memory does not hold it a second time (a million small entries held twice were 90 MiB).
async fn store(cache: &Arc<Cache>, key: CacheKey, values: &Arc<[Value]>, shared: bool) {
    let packed = cache.put_disk_in_place(&key, values, shared);
    if packed == Some(true) {
        return;
    }
    cache.put_memory(key, Arc::clone(values));
    if packed.is_none() && cache.has_disk() {
        let (cache, values) = (Arc::clone(cache), Arc::clone(values));
        let _best_effort = blocking(move || cache.put_disk(&key, &values, shared)).await;
    }
}

/// Whether a node's outputs are costly to make again (a cloud call, local inference): those
/// go to the cache's shared tier too.
fn costly(spec: &crate::node::NodeSpec) -> bool {
    spec.resource != crate::node::ResourceClass::Cpu
}

/// Calls the node with panics caught, a timeout, and a grace period after cancellation.
async fn guarded_run(
    node: &dyn Node,
    ctx: NodeContext,
    cancel: &CancellationToken,
    timeout: Duration,
    grace: Duration,
) -> Result<Outputs, NodeError> {
    let future = match std::panic::catch_unwind(AssertUnwindSafe(|| node.run(ctx))) {
        Ok(f) => f,
        Err(payload) => return Err(NodeError::Panicked(panic_message(payload))),
    };
    let mut guarded = Box::pin(tokio::time::timeout(timeout, AssertUnwindSafe(future).catch_unwind()));
    let settle = |r: Result<std::thread::Result<Result<Outputs, NodeError>>, _>| match r {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => Err(NodeError::Panicked(panic_message(payload))),
        Err(_elapsed) => Err(NodeError::TimedOut { timeout_ms: timeout.as_millis() as u64 }),
    };
    let result = tokio::select! {
        r = &mut guarded => settle(r),
        _ = cancel.cancelled() => match tokio::time::timeout(grace, &mut guarded).await {
            Ok(r) => settle(r),
            Err(_) => Err(NodeError::Cancelled),
        },
    };
    if matches!(result, Err(NodeError::TimedOut { .. })) {
        // Tell cooperative blocking work to stop; its slot frees when it does.
        cancel.cancel();
    }
    result
}

/// Checks the node gave exactly its declared outputs with the declared types, in port order.
fn order_outputs(node: &dyn Node, outputs: Outputs) -> Result<(Arc<[Value]>, Record), NodeError> {
    let spec = node.spec();
    let mut values = Vec::with_capacity(spec.outputs.len());
    for out in &spec.outputs {
        let v = outputs.get(out.name).ok_or_else(|| {
            NodeError::Internal(format!("{} gave no value for output {:?}", spec.type_name, out.name))
        })?;
        if v.port_type() != out.ty {
            return Err(NodeError::Internal(format!(
                "{} gave {} for output {:?}, declared {}",
                spec.type_name,
                v.port_type(),
                out.name,
                out.ty
            )));
        }
        values.push(v.clone());
    }
    if let Some((extra, _)) = outputs.values.iter().find(|(p, _)| !spec.outputs.iter().any(|o| o.name == *p)) {
        return Err(NodeError::Internal(format!("{} gave an undeclared output {extra:?}", spec.type_name)));
    }
    Ok((values.into(), outputs.record))
}

pub(super) fn key_hashes(key: &CacheKey, count: usize) -> Vec<blake3::Hash> {
    (0..count).map(|i| key.output_hash(i)).collect()
}

async fn content_hashes(values: &Arc<[Value]>) -> Result<Vec<blake3::Hash>, NodeError> {
    let bytes: usize = values.iter().map(Value::byte_size).sum();
    if bytes <= INLINE_HASH_MAX_BYTES {
        return Ok(values.iter().map(Value::content_hash).collect());
    }
    let values = Arc::clone(values);
    blocking(move || values.iter().map(Value::content_hash).collect()).await
}

/// Runs a closure on the blocking pool; a panic in it becomes `NodeError::Panicked`.
fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> impl Future<Output = Result<T, NodeError>> {
    tokio::task::spawn_blocking(f).map(|r| {
        r.map_err(|e| match e.try_into_panic() {
            Ok(payload) => NodeError::Panicked(panic_message(payload)),
            Err(_) => NodeError::Cancelled,
        })
    })
}
