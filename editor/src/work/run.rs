//! A run from the editor: validated and placed as `switchyard run` does, billed through the
//! wallet when one is set, with every node event and small previews sent back to the UI.

use std::sync::Arc;

use switchyard_billing::billed::wrap_graph;
use switchyard_billing::{Billing, GraphPlan, place_graph};
use switchyard_engine::cache::Cache;
use switchyard_engine::{EventSink, Executor, PathRoots, RunOptions, Value};
use switchyard_session::account::RunAccount;
use switchyard_session::wallet::{Admission, WalletOptions};
use tokio_util::sync::CancellationToken;

use super::protocol::{Check, Finished, Outbox, Reply, Settings, Wallet};
use switchyard_nodes::preview::Preview;

/// Events buffered between the executor and the UI.
const EVENT_QUEUE: usize = 1024;
/// Bytes of outputs the editor's executor keeps between runs, so unchanged nodes are cached.
const CACHE_BYTES: usize = 512 << 20;

/// The executor runs share, so a second run serves unchanged nodes from its cache.
pub fn shared_executor() -> Arc<Executor> {
    Arc::new(Executor::new(Default::default(), Arc::new(Cache::memory(CACHE_BYTES))))
}

/// Runs `check`'s graph, sending events and then `Finished` (or `Refused`).
pub async fn run(
    settings: Arc<Settings>,
    executor: Arc<Executor>,
    check: Check,
    cancel: CancellationToken,
    out: Outbox,
) {
    let (mut graph, plan) = match prepare(&settings, &check) {
        Ok(ready) => ready,
        Err(why) => return out.send(Reply::Refused(why)),
    };
    let mut billed = None;
    if let Some(wallet) = &settings.wallet
        && plan.plan.nodes.iter().any(Option::is_some)
    {
        match open_billing(&settings, wallet, &plan, check.budget).await {
            Ok(billing) => {
                wrap_graph(&mut graph, &plan, &billing, "");
                billed = Some(billing);
            }
            Err(why) => return out.send(Reply::Refused(why)),
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
    let forward = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                out.send(Reply::Event(event));
            }
        })
    };
    let workflow = switchyard_engine::format::to_canonical_text(&check.file);
    let provenance = switchyard_engine::Provenance { workflow: workflow.into(), overrides: Vec::new() };
    let paths = PathRoots::new(&check.input_root, &settings.out_dir)
        .with_inputs(settings.inputs.clone())
        .with_provenance(provenance);
    let opts = RunOptions { paths: Arc::new(paths), events: EventSink::channel(tx), cancel, keep_outputs: true };
    let report = executor.run(&graph, opts).await;
    let _ = forward.await;
    if let Some(billing) = billed
        && let Err(e) = billing.close().await
    {
        tracing::error!(error = %e, "cannot release the run's unused reservation; recovery will");
    }
    let mut previews = Vec::new();
    for n in &report.nodes {
        let first_image = report.values.get(&n.id).and_then(|v| v.iter().find_map(|(_, v)| image_of(v)));
        if let Some(p) = first_image {
            previews.push((n.id.as_str().to_string(), p));
        }
    }
    let account = settings.wallet.as_ref().map(|w| w.account.as_str());
    let run = RunAccount::of(&check.policy, account, std::slice::from_ref(&plan), std::slice::from_ref(&report));
    let charged = settings.wallet.as_ref().map(|_| run.and_then(|r| r.charged).unwrap_or(0));
    let nodes =
        report.nodes.iter().map(|n| (n.id.as_str().to_string(), n.status, n.error().map(str::to_string))).collect();
    let done = Finished { status: report.status, duration_ms: report.duration_ms, nodes, previews, charged };
    out.send(Reply::Finished(Box::new(done)));
}

/// The longest side of a preview on the canvas, in pixels.
const PREVIEW_SIDE: u32 = 512;

fn image_of(value: &Value) -> Option<Preview> {
    switchyard_nodes::preview::of_value(value, PREVIEW_SIDE)
}

fn prepare(settings: &Settings, check: &Check) -> Result<(switchyard_engine::Graph, GraphPlan), String> {
    let mut graph = super::quote::compile(settings, check).map_err(|d| {
        let first = d.first().map(ToString::to_string).unwrap_or_default();
        format!("the graph has {} problem(s); first: {first}", d.len())
    })?;
    let quote = super::quote::options(settings, &graph, check)?;
    let plan = place_graph(&settings.catalog, &mut graph, &quote).map_err(|e| e.to_string())?;
    Ok((graph, plan))
}

async fn open_billing(
    settings: &Settings,
    wallet: &Wallet,
    plan: &GraphPlan,
    budget: Option<i64>,
) -> Result<Arc<Billing>, String> {
    let opts = WalletOptions {
        account: wallet.account.clone(),
        ledger: Some(wallet.ledger.clone()),
        budget,
        member: wallet.member.clone(),
        rules: None,
    };
    let ledger = switchyard_session::wallet::open_for_run(&opts).await.map_err(|e| e.to_string())?;
    let totals = &plan.plan.totals;
    match switchyard_session::wallet::admit(ledger, Arc::clone(&settings.catalog), &opts, totals, &[]).await {
        Ok(Admission::Admitted(billing)) => Ok(billing),
        Ok(Admission::Refused(verdict)) => {
            let [_, why] = verdict.lines(totals);
            Err(format!("{}: {why}", wallet.account))
        }
        Err(e) => Err(format!("refused before starting, nothing was charged: {e}")),
    }
}

/// The wallet's available credits.
pub async fn balance(wallet: Option<&Wallet>) -> Result<i64, String> {
    let wallet = wallet.ok_or("no wallet: start the editor with --account to bill runs")?;
    let opts = WalletOptions {
        account: wallet.account.clone(),
        ledger: Some(wallet.ledger.clone()),
        budget: None,
        member: wallet.member.clone(),
        rules: None,
    };
    switchyard_session::wallet::available(&opts).await.map_err(|e| e.to_string())
}
