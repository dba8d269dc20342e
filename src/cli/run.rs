//! `switchyard run`: validate everything first, then run once or per batch item.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use switchyard_engine::batch::BatchItem;
use switchyard_engine::{Diagnostics, EventSink, Registry};
use tokio_util::sync::CancellationToken;

use super::args::RunArgs;
use super::load::print_diagnostics;
use super::placement::load_catalog;
use super::{Exit, progress, spend, summary};
use switchyard_billing::{GraphPlan, RunId};
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::account::RunAccount;
use switchyard_session::catalog::Catalog;
use switchyard_session::load::BatchOptions;
use switchyard_session::run::{CacheOptions, ExecOptions, execute as execute_items};

/// Events buffered between the executor and the printer.
const EVENT_QUEUE: usize = 16 * 1024;

pub fn run(registry: &Registry, mut args: RunArgs, onnx: &OnnxSettings) -> Result<Exit> {
    let items = match prepare(registry, &args) {
        Ok(items) => items,
        Err(diags) => {
            print_diagnostics(&args.workflow.workflow, &diags, args.json);
            return Ok(Exit::Invalid);
        }
    };
    let (mut items, pruned) = match args.all_nodes {
        true => (items, Vec::new()),
        false => match switchyard_session::load::prune(items, &args.only) {
            Ok(cut) => cut,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
        },
    };
    if !pruned.is_empty() && !args.json && !args.events_json {
        eprintln!("{}", summary::pruned_text(&pruned));
    }
    if let Some(first) = items.first() {
        args.placement.default_from(&first.graph.run);
        args.wallet.default_from(&first.graph.run);
    }
    let (catalog, plans) = match place_items(&mut items, &args, onnx) {
        Ok(placed) => placed,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let exit = runtime.block_on(execute(items, catalog, plans, &args, &pruned));
    // Blocking node work that ignores cancellation must not hold the process open for long.
    runtime.shutdown_timeout(Duration::from_secs(2));
    exit
}

/// Validates the workflow (once per batch item) before anything runs.
fn prepare(registry: &Registry, args: &RunArgs) -> Result<Vec<BatchItem>, Diagnostics> {
    let batch = match (&args.batch, &args.bind) {
        (Some(pattern), Some(bind)) => Some(BatchOptions { pattern: pattern.clone(), bind: bind.clone() }),
        _ => None,
    };
    switchyard_session::load::prepare(registry, &args.workflow.options(), batch.as_ref(), &args.out)
}

/// Places every item's cloud-capable nodes by the policy (setting their `provider`).
fn place_items(
    items: &mut [BatchItem],
    args: &RunArgs,
    onnx: &OnnxSettings,
) -> Result<(Catalog, Vec<GraphPlan>), String> {
    let catalog = load_catalog(&args.placement)?;
    let billed = args.wallet.account.is_some();
    let plans = switchyard_session::plan::place_items(items, &catalog, &(&args.placement).into(), onnx, billed)
        .map_err(|e| e.to_string())?;
    Ok((catalog, plans))
}

async fn execute(
    mut items: Vec<BatchItem>,
    catalog: Catalog,
    plans: Vec<GraphPlan>,
    args: &RunArgs,
    pruned: &[String],
) -> Result<Exit> {
    let mut billed = None;
    if args.wallet.account.is_some() && switchyard_session::plan::spends(&plans) {
        match spend::open(args, catalog, &mut items, &plans).await {
            Ok(billing) => billed = Some(billing),
            Err(exit) => return Ok(exit),
        }
    }
    let cancel = CancellationToken::new();
    watch_ctrl_c(cancel.clone());
    let total_nodes: usize = items.iter().map(|i| i.graph.len()).sum();
    let (tx, rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
    let run_id = billed.as_ref().map_or_else(RunId::mint, |b| b.run_id.clone()).to_string();
    if args.events_json {
        let fields = serde_json::json!({ "workflow": args.workflow.workflow.display().to_string(), "items": items.len(), "nodes": total_nodes });
        progress::print_run_event("run_started", &run_id, fields);
    }
    let (sink, printer) = if args.events_json {
        (EventSink::channel(tx), Some(tokio::spawn(progress::print_ndjson(rx, run_id.clone()))))
    } else if std::io::stderr().is_terminal() {
        (EventSink::channel(tx).without_queued(), Some(tokio::spawn(progress::show_bars(rx, total_nodes as u64))))
    } else {
        // Bars are not drawn off a terminal: sending them a million events would be waste.
        (EventSink::none(), None)
    };
    let exec = exec_options(args);
    let started = std::time::Instant::now();
    let ran = execute_items(items, args.batch.is_some(), &exec, sink, &cancel, billed.clone()).await;
    if let Some(printer) = printer {
        let _ = printer.await;
    }
    if let Some(billing) = &billed
        && let Ok(ledger) = switchyard_session::wallet::open(&args.wallet.options(&billing.account)).await
    {
        switchyard_session::account::record_usage(&ledger, billing, &plans, &ran.reports).await;
    }
    let spent = RunAccount::of(args.placement.policy(), args.wallet.account.as_deref(), &plans, &ran.reports);
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if args.events_json {
        let failed = ran.reports.iter().filter(|r| r.status != switchyard_engine::RunStatus::Succeeded).count();
        let status = summary::overall(&ran.reports);
        let fields = serde_json::json!({ "status": status, "duration_ms": wall_ms, "items": ran.reports.len(), "items_failed": failed });
        progress::print_run_event("run_finished", &run_id, fields);
    }
    Ok(summary::print(&ran.reports, args, ran.cache, (spent.as_ref(), pruned), wall_ms))
}

fn exec_options(args: &RunArgs) -> ExecOptions {
    ExecOptions {
        cpu_limit: args.cpu_limit,
        accelerator_limit: args.accelerator_limit,
        cloud_limit: args.cloud_limit,
        node_timeout_ms: args.node_timeout_ms,
        fail_fast: args.fail_fast,
        jobs: args.jobs,
        cache: CacheOptions {
            memory_mb: args.memory_cache_mb,
            no_disk: args.no_disk_cache,
            dir: args.cache_dir.clone(),
            max_mb: args.cache_max_mb,
            shared: None,
        },
    }
}

/// The first Ctrl-C or SIGTERM cancels the run cooperatively (running paid calls settle:
/// posted, or left unknown for reconciliation, never silently voided); a second signal
/// exits at once.
fn watch_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        let Ok(mut signals) = Signals::new() else {
            tracing::warn!("cannot watch for signals; Ctrl-C will end the run without settling it");
            return;
        };
        signals.next().await;
        eprintln!("\ncancelling: stopping new nodes and waiting for running ones (signal again to quit now)");
        cancel.cancel();
        signals.next().await;
        std::process::exit(Exit::Cancelled as i32);
    });
}

/// SIGINT and, on Unix, SIGTERM (what `kill` and service managers send).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
