//! The executor: runs a [`Graph`] on tokio, concurrently, bounded per resource class.

mod report;
mod scheduler;
mod task;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use report::{NodeDetail, NodeReport, NodeStatus, RunReport, RunStatus};

use crate::cache::Cache;
use crate::events::EventSink;
use crate::graph::Graph;
use crate::node::ResourceClass;
use crate::paths::PathRoots;

/// Limits and policies for every run of an executor.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// CPU nodes at once; defaults to the core count.
    pub cpu_limit: usize,
    /// Local-accelerator nodes at once.
    pub accelerator_limit: usize,
    /// Cloud calls at once.
    pub cloud_limit: usize,
    /// The longest one node may run.
    pub node_timeout_ms: u64,
    /// How long a cancelled node may take to stop on its own (to cancel a remote job) before it is dropped.
    pub cancel_grace_ms: u64,
    /// Stop launching nodes after the first failure.
    pub fail_fast: bool,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            cpu_limit: cores,
            accelerator_limit: 1,
            cloud_limit: 8,
            node_timeout_ms: 10 * 60 * 1000,
            cancel_grace_ms: 5_000,
            fail_fast: false,
        }
    }
}

/// Per-run options.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where relative paths point.
    pub paths: Arc<PathRoots>,
    /// Where events go.
    pub events: EventSink,
    /// Cancels the run (Ctrl-C).
    pub cancel: CancellationToken,
    /// Keep every node's outputs in the report (previews, tests); otherwise they are freed once consumed.
    pub keep_outputs: bool,
}

impl RunOptions {
    /// Options with no events, a fresh token, and outputs freed once consumed.
    pub fn new(paths: PathRoots) -> Self {
        Self {
            paths: Arc::new(paths),
            events: EventSink::none(),
            cancel: CancellationToken::new(),
            keep_outputs: false,
        }
    }
}

/// Runs graphs. Shares its resource limits and cache across every run it makes, batch items included.
pub struct Executor {
    config: ExecutorConfig,
    limits: [Arc<Semaphore>; 3],
    cache: Arc<Cache>,
}

impl Executor {
    /// An executor with these limits and this cache.
    pub fn new(config: ExecutorConfig, cache: Arc<Cache>) -> Self {
        let sem = |n: usize| Arc::new(Semaphore::new(n.max(1)));
        let limits = [sem(config.cpu_limit), sem(config.accelerator_limit), sem(config.cloud_limit)];
        Self { config, limits, cache }
    }

    /// The limits in force.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// The shared cache.
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    fn limit(&self, class: ResourceClass) -> &Arc<Semaphore> {
        &self.limits[class.index()]
    }

    /// Runs a graph to the end, cancellation or failure. Never panics on a node's panic:
    /// every node ends with a recorded status.
    pub async fn run(&self, graph: &Graph, opts: RunOptions) -> RunReport {
        scheduler::run_graph(self, graph, opts).await
    }
}
