//! Running prepared items: the executor built from plain options (limits, timeouts, the
//! output cache), one run or a batch, events to the front end's sink, and the run's
//! reservation closed at the end, whatever happened.

use std::path::PathBuf;
use std::sync::Arc;

use switchyard_billing::Billing;
use switchyard_engine::batch::{BatchItem, run_batch};
use switchyard_engine::cache::{Cache, CacheStats, DiskCache};
use switchyard_engine::{EventSink, Executor, ExecutorConfig, RunOptions, RunReport};
use tokio_util::sync::CancellationToken;

/// How runs execute.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// CPU nodes at once; the executor's default when `None`.
    pub cpu_limit: Option<usize>,
    /// Accelerator nodes at once.
    pub accelerator_limit: usize,
    /// Cloud nodes at once.
    pub cloud_limit: usize,
    /// One node's time limit.
    pub node_timeout_ms: u64,
    /// Stop launching nodes after the first failure.
    pub fail_fast: bool,
    /// Batch items at once.
    pub jobs: usize,
    /// The output cache.
    pub cache: CacheOptions,
}

impl ExecOptions {
    /// What a service (the server, a farm worker) runs each run with: one accelerator node
    /// and eight cloud calls at once, ten minutes a node, a 256 MiB memory cache and a 4 GiB
    /// disk cache in `cache_dir` (none without one).
    pub fn service(cache_dir: Option<PathBuf>) -> Self {
        Self {
            cpu_limit: None,
            accelerator_limit: 1,
            cloud_limit: 8,
            node_timeout_ms: 600_000,
            fail_fast: false,
            jobs: 1,
            cache: CacheOptions {
                memory_mb: 256,
                no_disk: cache_dir.is_none(),
                dir: cache_dir,
                max_mb: 4096,
                shared: None,
            },
        }
    }
}

/// Where outputs are cached.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// Bytes held in memory, in MiB.
    pub memory_mb: usize,
    /// No cache on disk.
    pub no_disk: bool,
    /// The disk cache's folder; the user's cache folder when `None`.
    pub dir: Option<PathBuf>,
    /// The disk cache's size cap, in MiB.
    pub max_mb: u64,
    /// Where costly entries (cloud calls, inference) are also kept for other machines: a
    /// farm's artifact store, directly or through its server.
    pub shared: Option<SharedTier>,
}

/// A cache's shared tier.
#[derive(Clone)]
pub struct SharedTier(pub Arc<dyn switchyard_engine::cache::SharedStore>);

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTier")
    }
}

/// What a run did: a report per item (in item order) and the cache's use.
pub struct Ran {
    /// One report per item.
    pub reports: Vec<RunReport>,
    /// Cache hits, misses and bytes.
    pub cache: CacheStats,
}

/// Runs `items` (one run, or a batch when `batch` is set), sending events to `events`, and
/// closes `billing`'s reservation afterwards (a failure to close is logged: recovery
/// releases it).
pub async fn execute(
    items: Vec<BatchItem>,
    batch: bool,
    opts: &ExecOptions,
    events: EventSink,
    cancel: &CancellationToken,
    billing: Option<Arc<Billing>>,
) -> Ran {
    let executor = Executor::new(config(opts), Arc::new(cache(&opts.cache)));
    let reports = match (batch, <[BatchItem; 1]>::try_from(items)) {
        (false, Ok([item])) => {
            let run = RunOptions { paths: Arc::new(item.paths), events, cancel: cancel.clone(), keep_outputs: false };
            vec![executor.run(&item.graph, run).await]
        }
        (_, Ok(one)) => run_batch(&executor, one.into(), &events, cancel, opts.jobs).await,
        (_, Err(items)) => run_batch(&executor, items, &events, cancel, opts.jobs).await,
    };
    if let Some(billing) = billing
        && let Err(e) = billing.close().await
    {
        tracing::warn!(error = %e, "cannot release the run's unused reservation; the next ledger start-up will");
    }
    Ran { reports, cache: executor.cache().stats() }
}

fn config(opts: &ExecOptions) -> ExecutorConfig {
    let defaults = ExecutorConfig::default();
    ExecutorConfig {
        cpu_limit: opts.cpu_limit.unwrap_or(defaults.cpu_limit),
        accelerator_limit: opts.accelerator_limit,
        cloud_limit: opts.cloud_limit,
        node_timeout_ms: opts.node_timeout_ms,
        fail_fast: opts.fail_fast,
        ..defaults
    }
}

/// The output cache: memory, and the disk store unless turned off or unavailable, and the
/// shared tier when there is one.
pub fn cache(opts: &CacheOptions) -> Cache {
    let cache = local_cache(opts);
    match &opts.shared {
        Some(tier) => cache.with_shared(Arc::clone(&tier.0)),
        None => cache,
    }
}

fn local_cache(opts: &CacheOptions) -> Cache {
    let memory_bytes = opts.memory_mb << 20;
    if opts.no_disk {
        return Cache::memory(memory_bytes);
    }
    let dir = opts.dir.clone().or_else(|| dirs::cache_dir().map(|d| d.join("switchyard").join("outputs")));
    let Some(dir) = dir else {
        tracing::warn!("no user cache folder is known; running without a disk cache (set --cache-dir)");
        return Cache::memory(memory_bytes);
    };
    match DiskCache::open(&dir, opts.max_mb << 20) {
        Ok(disk) => Cache::with_disk(memory_bytes, disk),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot open the disk cache; running without it");
            Cache::memory(memory_bytes)
        }
    }
}
