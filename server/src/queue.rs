//! The dispatcher: takes the next queued run whenever a worker slot is free, and executes it
//! through the session layer (validate, place, admit on the tenant's wallet, run), keeping
//! its outputs under `runs/{id}` in the data folder and its intermediate results in the disk
//! cache, so a re-queued run resumes instead of paying again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use switchyard_engine::batch::BatchItem;
use switchyard_engine::{Diagnostics, Event, EventKind, EventSink, PathRoots, Picture, RunReport};
use switchyard_session::SessionError;
use switchyard_session::account::RunAccount;
use switchyard_session::load::{LoadOptions, Source};
use switchyard_session::placement::PlacementOptions;
use switchyard_session::plan::GraphPlan;
use switchyard_session::run::ExecOptions;
use switchyard_session::wallet::{Admission, WalletOptions};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use std::sync::atomic::Ordering;

use crate::events::Detail;
use crate::lanes::{ECONOMY_WAIT_MAX_MS, Placing, economy_slots};
use crate::store::{OutputRow, Pick, RunRow, now_ms};
use crate::{App, ServerError};

/// Engine events buffered between a run and the event hub.
const EVENT_QUEUE: usize = 1024;
/// The longest side of a preview on the event stream, in pixels.
const PREVIEW_SIDE: u32 = 256;

/// The most nodes a submitted workflow may have.
pub(crate) const MAX_NODES: usize = 100_000;

/// How a finished run is kept: the engine's report and the run's account in credits.
#[derive(Serialize)]
struct Summary<'a> {
    reports: &'a [RunReport],
    credits: Option<RunAccount>,
}

/// Takes queued runs until `shutdown`; each runs until it ends or `work` is cancelled.
pub(crate) async fn dispatch(app: Arc<App>, shutdown: CancellationToken, work: CancellationToken) {
    let slots = Arc::new(Semaphore::new(app.workers));
    let mut promoted = None;
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit { Ok(p) => p, Err(_) => return },
            _ = shutdown.cancelled() => return,
        };
        match claim(&app, &mut promoted).await {
            Ok(Some(run)) => {
                let (app, cancel) = (Arc::clone(&app), work.child_token());
                let economy = (run.lane == "economy").then(|| EconomySlot::take(&app));
                tokio::spawn(async move {
                    execute(&app, run, cancel).await;
                    drop((permit, economy));
                    app.wake.notify_one();
                });
            }
            Ok(None) => {
                drop(permit);
                app.limits.prune();
                tokio::select! {
                    _ = app.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
            Err(e) => {
                drop(permit);
                tracing::error!(error = %e, "cannot take the next run");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// How often scheduled runs are checked for being due.
const PROMOTE_EVERY: Duration = Duration::from_secs(1);

/// The next run to start: an economy run that waited its longest, else a standard run, else
/// an economy run, while economy runs hold fewer than their share of the slots. Scheduled
/// runs that came due are queued first (at most once a second).
async fn claim(app: &App, promoted: &mut Option<std::time::Instant>) -> Result<Option<RunRow>, ServerError> {
    if promoted.is_none_or(|t| t.elapsed() >= PROMOTE_EVERY) {
        *promoted = Some(std::time::Instant::now());
        app.store.promote_due(now_ms()).await?;
    }
    let economy_free = app.economy_running.load(Ordering::Relaxed) < economy_slots(app.workers);
    if economy_free && let Some(run) = app.store.claim_next(Pick::EconomyBefore(now_ms() - ECONOMY_WAIT_MAX_MS)).await?
    {
        return Ok(Some(run));
    }
    if let Some(run) = app.store.claim_next(Pick::Standard).await? {
        return Ok(Some(run));
    }
    match economy_free {
        true => app.store.claim_next(Pick::Economy).await,
        false => Ok(None),
    }
}

/// An economy run's hold on its share of the slots, given back when dropped.
struct EconomySlot(Arc<App>);

impl EconomySlot {
    fn take(app: &Arc<App>) -> Self {
        app.economy_running.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(app))
    }
}

impl Drop for EconomySlot {
    fn drop(&mut self) {
        self.0.economy_running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Executes one claimed run and records how it ended.
async fn execute(app: &App, run: RunRow, cancel: CancellationToken) {
    if let Ok(mut running) = app.running.lock() {
        running.insert(run.id.clone(), cancel.clone());
    }
    tracing::info!(run = %run.id, tenant = %run.tenant, attempt = run.attempts, "run started");
    let running = serde_json::json!({ "state": "running", "attempt": run.attempts });
    app.hub.publish_typed(&run.tenant, &run.id, "run", running, Detail::State("running".into()));
    let out = app.data.join("runs").join(&run.id);
    let started = std::time::Instant::now();
    let outcome = run_one(app, &run, &cancel, &out).await;
    app.estimator.run_took(started.elapsed().as_millis() as u64);
    if let Ok(mut running) = app.running.lock() {
        running.remove(&run.id);
    }
    let by_user = app.store.cancel_requested(&run.id).await.unwrap_or(false);
    let recorded = match outcome {
        _ if cancel.is_cancelled() && !by_user => app.store.requeue(Some(&run.id)).await.map(|_| ()),
        Ok((state, summary, files)) => match keep_outputs(app, &run, &out, &files).await {
            Ok(()) => app.store.finish(&run.id, state, Some(&summary), None).await,
            Err(e) => app.store.finish(&run.id, "failed", Some(&summary), Some(&format!("keeping outputs: {e}"))).await,
        },
        Err(e) => app.store.finish(&run.id, "failed", None, Some(&e.to_string())).await,
    };
    if let Ok(Some(ended)) = app.store.run(&run.tenant, &run.id).await {
        app.metrics.run_ended(&ended.state);
        let event = serde_json::json!({ "state": ended.state });
        app.hub.publish_typed(&run.tenant, &run.id, "run", event, Detail::State(ended.state));
    }
    if let Err(e) = recorded {
        tracing::error!(run = %run.id, error = %e, "cannot record how the run ended; it will run again on restart");
    }
    tracing::info!(run = %run.id, "run ended");
}

/// A preview as sent on `/v1/events` (a PNG, base64-encoded, with the node and port) and
/// typed (for ComfyUI's socket).
fn preview_event(event: &Event, port: &str, picture: &Picture) -> Option<(serde_json::Value, Detail)> {
    use base64::Engine as _;
    let png = switchyard_nodes::preview::png(picture)?;
    let detail = Detail::Preview { node: event.node.as_str().to_string(), png: Arc::from(png.as_slice()) };
    let json = serde_json::json!({
        "item": event.item.as_deref(),
        "node": event.node.as_str(),
        "event": "preview",
        "port": port,
        "width": picture.size[0],
        "height": picture.size[1],
        "source_width": picture.source_size[0],
        "source_height": picture.source_size[1],
        "media_type": "image/png",
        "data": base64::engine::general_purpose::STANDARD.encode(&png),
    });
    Some((json, detail))
}

/// Moves the files a run wrote into the output store and indexes them by their name under
/// the run's output folder.
async fn keep_outputs(app: &App, run: &RunRow, out: &std::path::Path, files: &[PathBuf]) -> Result<(), String> {
    let mut rows = Vec::with_capacity(files.len());
    for file in files {
        let path = if file.is_absolute() { file.clone() } else { out.join(file) };
        let name = path.strip_prefix(out).unwrap_or(&path).to_string_lossy().into_owned();
        let (hash, bytes) = app.outputs.put(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let media_type = crate::outputs::media_type(&name).to_string();
        rows.push(OutputRow { name, hash, bytes: bytes as i64, media_type });
    }
    app.store.insert_outputs(&run.id, &run.tenant, &rows).await.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(out);
    Ok(())
}

/// Stops the executing run `id`, if it executes here.
pub(crate) fn stop(app: &App, id: &str) {
    if let Some(cancel) = app.running.lock().ok().and_then(|r| r.get(id).cloned()) {
        cancel.cancel();
    }
}

/// The wallet a tenant's account names: `{tenant}/{account}`, so a tenant can only ever
/// spend its own.
pub(crate) fn wallet_of(tenant: &str, account: &str) -> String {
    format!("{tenant}/{account}")
}

/// Why a workflow cannot run.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// It does not validate: every problem, with where and how to fix it.
    Invalid(Diagnostics),
    /// It cannot be placed or admitted.
    Session(SessionError),
}

impl From<SessionError> for Refusal {
    fn from(e: SessionError) -> Self {
        Refusal::Session(e)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(d) => {
                let lines: Vec<String> = d.0.iter().map(|d| d.message.clone()).collect();
                write!(f, "{}", lines.join("; "))
            }
            Refusal::Session(e) => write!(f, "{e}"),
        }
    }
}

/// Validates and places a stored or submitted workflow: one item, writing under `out`.
pub(crate) fn prepare(
    app: &App,
    tenant: &str,
    workflow: &str,
    overrides: &[String],
    placing: &Placing,
    billed: bool,
    out: PathBuf,
) -> Result<(BatchItem, Vec<GraphPlan>), Refusal> {
    let uploads = app.uploads(tenant);
    // Tenant names are checked to be plain, so this is a folder inside the data folder.
    std::fs::create_dir_all(&uploads).map_err(|e| SessionError::invalid(format!("the uploads folder: {e}")))?;
    let source = Source::text(workflow.to_string(), uploads.clone());
    let opts = LoadOptions {
        workflow: PathBuf::new(),
        overrides: overrides.to_vec(),
        max_nodes: MAX_NODES,
        inputs: app.inputs(tenant),
    };
    let parsed = switchyard_session::load::parse_overrides(overrides).map_err(Refusal::Invalid)?;
    let graph = switchyard_session::load::compile(&app.registry, &source, &parsed, &opts).map_err(Refusal::Invalid)?;
    let paths = source.carried_by(PathRoots::new(uploads, out).with_inputs(app.inputs(tenant)), &graph, overrides);
    let mut items = [BatchItem { name: String::new(), paths, graph }];
    let placement = PlacementOptions {
        policy: placing.policy.clone(),
        routes: placing.routes.clone(),
        at: placing.price_at_s.map(|t| t.to_string()),
        ..PlacementOptions::default()
    };
    let plans = switchyard_session::plan::place_items(&mut items, &app.catalog, &placement, &app.onnx, billed)?;
    let [item] = items;
    Ok((item, plans))
}

/// Runs `run` to its end: `("succeeded" | "failed" | "cancelled", summary JSON, files written)`.
async fn run_one(
    app: &App,
    run: &RunRow,
    cancel: &CancellationToken,
    out: &std::path::Path,
) -> Result<(&'static str, String, Vec<PathBuf>), Refusal> {
    let overrides: Vec<String> = serde_json::from_str(&run.overrides).unwrap_or_default();
    let billed = run.account.is_some();
    let placing =
        Placing { policy: run.policy.clone(), routes: Placing::routes_of(&run.routes), price_at_s: run.price_at_s };
    let (item, plans) = prepare(app, &run.tenant, &run.workflow, &overrides, &placing, billed, out.to_path_buf())?;
    let mut items = vec![item];
    let mut billing = None;
    if let Some(account) = &run.account
        && switchyard_session::plan::spends(&plans)
    {
        let wallet = WalletOptions {
            account: wallet_of(&run.tenant, account),
            ledger: Some(app.ledger.clone()),
            budget: run.budget,
            member: run.member.clone(),
            rules: Some(app.billing.fraud.clone()),
        };
        match switchyard_session::plan::admit_items(&mut items, &plans, Arc::clone(&app.catalog), &wallet).await? {
            Admission::Admitted(b) => billing = Some(b),
            Admission::Refused(verdict) => {
                let [_, why] = verdict.lines(&switchyard_session::plan::totals(&plans));
                return Err(SessionError::over_budget(why).into());
            }
        }
    }
    let exec = ExecOptions::service(Some(app.data.join("cache")));
    let (events, mut received) = tokio::sync::mpsc::channel::<Event>(EVENT_QUEUE);
    let forward = async {
        while let Some(event) = received.recv().await {
            match &event.kind {
                EventKind::Preview { port, picture } => {
                    if let Some((preview, detail)) = preview_event(&event, port, picture.as_ref()) {
                        app.hub.publish_preview(&run.tenant, &run.id, preview, detail);
                    }
                }
                _ => {
                    let json = serde_json::to_value(&event).unwrap_or_default();
                    app.hub.publish_typed(&run.tenant, &run.id, "node", json, Detail::Node(event));
                }
            }
        }
    };
    let execute = async {
        let sink = EventSink::channel(events).with_previews(switchyard_nodes::preview::previewer(PREVIEW_SIDE));
        switchyard_session::run::execute(items, false, &exec, sink, cancel, billing.clone()).await
    };
    let (ran, ()) = tokio::join!(execute, forward);
    if let (Some(billing), Ok(ledger)) = (&billing, app.ledger().await) {
        switchyard_session::account::record_usage(ledger, billing, &plans, &ran.reports).await;
    }
    let account = run.account.as_deref().map(|a| wallet_of(&run.tenant, a));
    let credits = RunAccount::of(&run.policy, account.as_deref(), &plans, &ran.reports);
    if let Some(charged) = credits.as_ref().and_then(|c| c.charged) {
        app.metrics.credits_charged.fetch_add(charged.max(0) as u64, std::sync::atomic::Ordering::Relaxed);
    }
    let summary = serde_json::to_string(&Summary { reports: &ran.reports, credits }).unwrap_or_default();
    let state = match ran.reports.iter().map(|r| r.status).next() {
        Some(switchyard_engine::RunStatus::Succeeded) => "succeeded",
        Some(switchyard_engine::RunStatus::Cancelled) => "cancelled",
        _ => "failed",
    };
    for node in ran.reports.iter().flat_map(|r| &r.nodes) {
        if let Some(ms) = node.duration_ms {
            app.metrics.node_ran(node.type_name, ms as f64 / 1000.0);
        }
    }
    let files = ran.reports.iter().flat_map(|r| r.nodes.iter().flat_map(|n| n.files().iter().cloned())).collect();
    Ok((state, summary, files))
}
