//! A farm worker: registers what it offers, then claims tasks while it has free slots, runs
//! each task's items through the engine, renews each lease a few times per lease period, and
//! reports how the task ended under the lease's token. A lease it loses (it stalled, or the
//! run was cancelled) stops the task's execution and is never reported. Expired leases of
//! dead workers are taken back by whichever worker looks first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchyard_billing::billed::wrap_graph;
use switchyard_billing::{Billing, RunBudget, RunId};
use switchyard_catalog::Catalog;
use switchyard_engine::batch::BatchItem;
use switchyard_engine::{EventSink, InputRoots, NodeStatus, Registry, RunStatus};
use switchyard_farm::{FarmError, FarmRun, Lease, Outcome, Output, Worker};
use switchyard_ledger::HoldId;
use switchyard_nodes::onnx::OnnxSettings;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::link::{Link, Prepared};
use super::report::{DB_RETRY_MS, Reporter, report};
use crate::placement::PlacementOptions;
use crate::run::ExecOptions;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// What it offers (its id, slots, memory, GPUs, tags).
    pub worker: Worker,
    /// How long a lease lasts unless renewed; renewed every third of it.
    pub lease_ms: i64,
    /// How long to wait when there is nothing to claim.
    pub idle_poll_ms: u64,
    /// How each task's items execute (limits, the shared disk cache).
    pub exec: ExecOptions,
    /// Where the workflows' inputs may be read from.
    pub inputs: InputRoots,
    /// Prices and placements, for billed runs' paid nodes.
    pub catalog: Arc<Catalog>,
    /// This machine's local models and runtime, which placement may prefer.
    pub onnx: OnnxSettings,
    /// Run each task in a child process of this program (`worker-task`): a crash or an
    /// out-of-memory kill then takes only that task, and is told apart.
    pub isolate: Option<super::Isolation>,
    /// Where the files tasks write are kept by content, for the server to serve; without
    /// it they stay in the run's output folder only.
    pub artifacts: Option<switchyard_farm::Artifacts>,
}

/// What a worker did, for its log and tests.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Tasks it completed.
    pub done: AtomicU64,
    /// Tasks it reported failed.
    pub failed: AtomicU64,
    /// Leases it lost (stopped without reporting).
    pub lost: AtomicU64,
}

/// Works until `stop`: then it claims nothing more and lets the tasks it holds finish.
pub async fn work(
    farm: &Link,
    registry: Arc<Registry>,
    opts: &WorkerOptions,
    stop: CancellationToken,
) -> Result<Arc<WorkerStats>, FarmError> {
    let opts = &with_shared_cache(farm, opts);
    farm.register(&opts.worker).await?;
    let slots = Arc::new(Semaphore::new(opts.worker.slots.max(1) as usize));
    let stats = Arc::new(WorkerStats::default());
    let held: Held = Arc::default();
    let reporter = Reporter::start(farm.clone());
    // A finished task wakes the loop at once, so a freed slot is filled without waiting
    // out the idle poll.
    let freed = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    let mut chores_at: Option<std::time::Instant> = None;
    while !stop.is_cancelled() {
        // Once a second: the heartbeat, dead workers' leases, and cancels of held tasks.
        let chores = chores_at.is_none_or(|t| t.elapsed() >= CHORES_EVERY);
        if chores {
            chores_at = Some(std::time::Instant::now());
            stop_lost(farm, &opts.worker.id, &held).await;
        }
        // A database that is away for a while is waited for, not fatal: held tasks go on,
        // and their leases are renewed once it answers again.
        let leases = match claim_round(farm, opts, slots.available_permits() as u32, chores).await {
            Ok(leases) => leases,
            Err(e) => {
                tracing::warn!(error = %e, "the farm database did not answer; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(DB_RETRY_MS)) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
        };
        let idle = leases.is_empty();
        for lease in leases {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
            let (farm, registry, opts, stats) = (farm.clone(), Arc::clone(&registry), opts.clone(), Arc::clone(&stats));
            let reporter = reporter.clone();
            let cancel = CancellationToken::new();
            if let Ok(mut h) = held.lock() {
                h.insert(lease.task, cancel.clone());
            }
            let (held, freed) = (Arc::clone(&held), Arc::clone(&freed));
            tasks.spawn(async move {
                let task = lease.task;
                run_task(&farm, &registry, &opts, lease, &stats, cancel, &reporter).await;
                if let Ok(mut h) = held.lock() {
                    h.remove(&task);
                }
                drop(permit);
                freed.notify_one();
            });
        }
        while tasks.try_join_next().is_some() {}
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(opts.idle_poll_ms)) => {}
                _ = freed.notified(), if slots.available_permits() == 0 => {}
                _ = stop.cancelled() => {}
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    Ok(stats)
}

/// `opts` with the farm's shared cache tier, unless it names its own.
pub(crate) fn with_shared_cache(link: &Link, opts: &WorkerOptions) -> WorkerOptions {
    let mut opts = opts.clone();
    if opts.exec.cache.shared.is_none() {
        opts.exec.cache.shared = super::tier::shared_tier(link, opts.artifacts.as_ref());
    }
    opts
}

/// The tasks this worker runs, each with the cancel of its execution.
type Held = Arc<std::sync::Mutex<std::collections::HashMap<i64, CancellationToken>>>;

/// Stops the execution of every held task whose lease is gone (a cancelled run, say), so a
/// cancel reaches running tasks within one turn of the loop, not at the next renewal.
async fn stop_lost(farm: &Link, worker: &str, held: &Held) {
    let ids: Vec<i64> = held.lock().map(|h| h.keys().copied().collect()).unwrap_or_default();
    let Ok(lost) = farm.lost_leases(worker, &ids).await else { return };
    if let Ok(h) = held.lock() {
        for id in lost {
            if let Some(cancel) = h.get(&id) {
                cancel.cancel();
            }
        }
    }
}

/// How often the heartbeat, the reaper and the cancel check run.
const CHORES_EVERY: Duration = Duration::from_secs(1);

/// One round of the loop's database work: with `chores`, the heartbeat and the reaping of
/// dead workers' leases; then a claim of up to `free` tasks.
async fn claim_round(farm: &Link, opts: &WorkerOptions, free: u32, chores: bool) -> Result<Vec<Lease>, FarmError> {
    if chores {
        if !farm.heartbeat(&opts.worker.id).await? {
            farm.register(&opts.worker).await?;
        }
        farm.reap().await?;
    }
    if free == 0 {
        return Ok(Vec::new());
    }
    farm.claim(&opts.worker, free, opts.lease_ms).await
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Runs one leased task to its end, renewing the lease meanwhile, and reports how it ended.
async fn run_task(
    farm: &Link,
    registry: &Registry,
    opts: &WorkerOptions,
    lease: Lease,
    stats: &WorkerStats,
    cancel: CancellationToken,
    reporter: &Reporter,
) {
    let work = async {
        match &opts.isolate {
            Some(exe) => super::isolate::in_child(exe, opts, &lease, &cancel).await,
            None => run_leased(farm, registry, opts, &lease, &cancel).await,
        }
    };
    let Some(Ran { outcome, outputs }) = supervise(farm, opts, &lease, work, &cancel).await else {
        stats.lost.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let counter = if outcome == Outcome::Done { &stats.done } else { &stats.failed };
    match report(reporter, &lease, &outcome, &outputs, opts.lease_ms).await {
        Ok(()) => {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Err(FarmError::LeaseLost { .. }) => {
            stats.lost.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::error!(task = lease.task, error = %e, "cannot report the task; its lease will expire"),
    }
}

/// How a task ran: its outcome and, when done, the files it wrote (in the artifact store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    /// How it ended.
    pub outcome: Outcome,
    /// What it wrote, by name.
    pub outputs: Vec<Output>,
}

impl From<Outcome> for Ran {
    fn from(outcome: Outcome) -> Self {
        Self { outcome, outputs: Vec::new() }
    }
}

/// Runs a leased task's items here (their run read from the farm, paid nodes billed to the
/// task's reservation, previews announced, written files kept by content) and says how they
/// ended. Renewing the lease is the caller's.
pub async fn run_leased(
    link: &Link,
    registry: &Registry,
    opts: &WorkerOptions,
    lease: &Lease,
    cancel: &CancellationToken,
) -> Ran {
    let Prepared { run, from, to } = match link.prepare(lease).await {
        Ok(prepared) => prepared,
        Err(outcome) => return outcome.into(),
    };
    let ran = run_items(link, registry, opts, lease, &run, (from, to), cancel).await;
    link.finish(&run).await;
    ran
}

async fn run_items(
    link: &Link,
    registry: &Registry,
    opts: &WorkerOptions,
    lease: &Lease,
    run: &FarmRun,
    (from, to): (usize, usize),
    cancel: &CancellationToken,
) -> Ran {
    let mut items = match super::items_of(registry, run, from, to, &opts.inputs) {
        Ok(items) => items,
        Err(d) => return Outcome::Failed(d.0.first().map_or_else(|| "invalid".into(), |e| e.message.clone())).into(),
    };
    if let Err(why) = bill(&mut items, run, lease, link, opts) {
        return Outcome::Failed(why).into();
    }
    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    let (events, received) = tokio::sync::mpsc::channel(PREVIEW_QUEUE);
    let forward = tokio::spawn(forward_previews(link.clone(), lease.clone(), received));
    let _forwarding = AbortOnDrop(forward);
    let sink = EventSink::channel(events).with_previews(gated_previewer());
    let ran = crate::run::execute(items, true, &opts.exec, sink, cancel, None).await;
    let outcome = outcome_of(&ran.reports);
    if outcome != Outcome::Done {
        return outcome.into();
    }
    match keep(link, opts.artifacts.as_ref(), &run.out_dir, &names, &ran.reports).await {
        Ok(outputs) => Ran { outcome, outputs },
        // The store is away: the work is redone later rather than recorded without its files.
        Err(e) => Outcome::Interrupted(format!("cannot keep the task's files: {e}")).into(),
    }
}

/// Keeps every file the items wrote by its content (in the artifact store, or on the farm's
/// server), named by its path under the run's output folder.
async fn keep(
    link: &Link,
    store: Option<&switchyard_farm::Artifacts>,
    out_dir: &str,
    names: &[String],
    reports: &[switchyard_engine::RunReport],
) -> Result<Vec<Output>, String> {
    let out = std::path::Path::new(out_dir);
    let mut outputs = Vec::new();
    for (report, item) in reports.iter().zip(names) {
        for file in report.nodes.iter().flat_map(|n| n.files()) {
            let path = if file.is_absolute() { file.clone() } else { out.join(file) };
            let name = path.strip_prefix(out).unwrap_or(&path).to_string_lossy().into_owned();
            let Some((hash, bytes)) = link.keep(store, &path).await? else { continue };
            outputs.push(Output { name, item: Some(item.clone()), hash, bytes: bytes as i64 });
        }
    }
    Ok(outputs)
}

/// Places a billed run's paid nodes as its quote did (its policy, prices as of its quote)
/// and wraps them to spend from the task's reservation: each paid call carves its hold from
/// it and posts it as the provider answers, under keys of this task's attempt. A run that
/// bills nothing, or a task with nothing reserved, is left as it is.
fn bill(
    items: &mut [BatchItem],
    run: &FarmRun,
    lease: &Lease,
    link: &Link,
    opts: &WorkerOptions,
) -> Result<(), String> {
    let (Some(payer), Some(hold)) = (&run.billing, &lease.hold) else { return Ok(()) };
    let placement = PlacementOptions {
        policy: payer.policy.clone(),
        at: payer.price_at_s.map(|t| t.to_string()),
        ..PlacementOptions::default()
    };
    let plans = crate::plan::place_items(items, &opts.catalog, &placement, &opts.onnx, true)
        .map_err(|e| format!("cannot place the task's paid nodes: {e}"))?;
    let billing = Arc::new(Billing {
        ledger: link.spender(lease),
        catalog: Arc::clone(&opts.catalog),
        account: payer.account.clone(),
        member: payer.member.clone(),
        run_id: RunId::derived(&format!("{}:{}:{}", run.id, lease.seq, lease.attempt)),
        budget: RunBudget::new(None),
        reservation: Some(HoldId(hold.clone())),
    });
    for (item, plan) in items.iter_mut().zip(&plans) {
        wrap_graph(&mut item.graph, plan, &billing, &item.name);
    }
    Ok(())
}

/// Runs `work` while renewing the lease; `None` when the lease was lost (`cancel` is then
/// cancelled, and `work` must stop), else how the work ended.
async fn supervise(
    farm: &Link,
    opts: &WorkerOptions,
    lease: &Lease,
    work: impl std::future::Future<Output = Ran>,
    cancel: &CancellationToken,
) -> Option<Ran> {
    tokio::pin!(work);
    let every = Duration::from_millis((opts.lease_ms / 3).max(1) as u64);
    loop {
        tokio::select! {
            outcome = &mut work => {
                if cancel.is_cancelled() {
                    return None;
                }
                return Some(outcome);
            }
            _ = tokio::time::sleep(every) => match farm.renew(lease, opts.lease_ms).await {
                Err(FarmError::LeaseLost { .. }) => {
                    cancel.cancel();
                    let _ = (&mut work).await;
                    return None;
                }
                // The database is away: go on; the next renewal (or the report) settles it.
                Err(e) => tracing::warn!(task = lease.task, error = %e, "cannot renew the lease yet"),
                Ok(_) => {}
            },
        }
    }
}

/// How a task's items ended: done when every item succeeded; interrupted when a node failed
/// only because a service it needs was away (nobody's fault, nothing charged); else failed,
/// with the first error.
fn outcome_of(reports: &[switchyard_engine::RunReport]) -> Outcome {
    if reports.iter().all(|r| r.status == RunStatus::Succeeded) {
        return Outcome::Done;
    }
    let nodes = || reports.iter().flat_map(|r| &r.nodes).filter(|n| n.status == NodeStatus::Failed);
    let first_error = |unavailable: bool| {
        nodes().filter(|n| n.unavailable() == unavailable).find_map(|n| n.error().map(str::to_string))
    };
    match first_error(false) {
        Some(why) => Outcome::Failed(why),
        None => match first_error(true) {
            Some(why) => Outcome::Interrupted(why),
            None => Outcome::Failed("an item failed".into()),
        },
    }
}

/// The longest side of a worker's previews, in pixels.
const PREVIEW_SIDE: u32 = 128;
/// At most one preview a task this often: the rest are not even pictured.
const PREVIEW_EVERY: Duration = Duration::from_millis(250);
/// Previews waiting to be stored, at most.
const PREVIEW_QUEUE: usize = 16;

/// A previewer that pictures at most one output per [`PREVIEW_EVERY`], so previews cost a
/// farm's frames next to nothing.
fn gated_previewer() -> switchyard_engine::Previewer {
    let inner = switchyard_nodes::preview::previewer(PREVIEW_SIDE);
    let last: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    switchyard_engine::Previewer(Arc::new(move |value| {
        {
            let mut last = last.lock().ok()?;
            if last.is_some_and(|t| t.elapsed() < PREVIEW_EVERY) {
                return None;
            }
            *last = Some(std::time::Instant::now());
        }
        (inner.0)(value)
    }))
}

/// Stores each preview of a task's frames as its run's latest (the farm announces it), until
/// the task's events end. A preview that cannot be stored is dropped: previews are live only.
async fn forward_previews(
    link: Link,
    lease: Lease,
    mut received: tokio::sync::mpsc::Receiver<switchyard_engine::Event>,
) {
    while let Some(event) = received.recv().await {
        let switchyard_engine::EventKind::Preview { port, picture } = &event.kind else { continue };
        let Some(png) = switchyard_nodes::preview::png(picture) else { continue };
        let dim = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let preview = switchyard_farm::StoredPreview {
            item: event.item.as_deref().map(str::to_string),
            node: event.node.as_str().to_string(),
            port: port.clone(),
            width: dim(picture.size[0]),
            height: dim(picture.size[1]),
            source_width: i32::try_from(picture.source_size[0]).unwrap_or(i32::MAX),
            source_height: i32::try_from(picture.source_size[1]).unwrap_or(i32::MAX),
            png,
        };
        if let Err(e) = link.put_preview(&lease, &preview).await {
            tracing::debug!(error = %e, "a preview was dropped");
        }
    }
}

/// Stops a spawned task when dropped (a task's preview forwarding ends with the task).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
