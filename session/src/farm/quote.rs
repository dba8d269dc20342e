//! A farm run's price at submit: its items placed as the workers will place them (the same
//! policy, prices as of the same time), the most one item may cost, and whether the payer
//! can cover at least one task. A run that makes paid calls must name who pays.

use switchyard_catalog::Catalog;
use switchyard_engine::batch::BatchItem;
use switchyard_farm::{Farm, Requires, RunBilling};
use switchyard_nodes::onnx::OnnxSettings;

use crate::SessionError;
use crate::placement::{PlacementOptions, parse_time};

/// Who pays, as a front end names it.
#[derive(Clone, Debug, Default)]
pub struct Payer {
    /// The wallet, if any.
    pub account: Option<String>,
    /// The team member spending from it.
    pub member: Option<String>,
    /// The most the whole run may commit.
    pub budget: Option<i64>,
}

/// Prices `items` under `placement` and returns the run's billing (`None` when it makes no
/// paid call). Refused when it makes paid calls and names no wallet.
pub fn quote(
    items: &mut [BatchItem],
    catalog: &Catalog,
    placement: &PlacementOptions,
    onnx: &OnnxSettings,
    payer: &Payer,
) -> Result<Option<RunBilling>, SessionError> {
    let price_at_s = match &placement.at {
        Some(at) => parse_time(at).map_err(SessionError::invalid)?,
        None => crate::farm::worker::now_ms() / 1000,
    };
    let pinned = PlacementOptions { at: Some(price_at_s.to_string()), ..placement.clone() };
    let plans = crate::plan::place_items(items, catalog, &pinned, onnx, payer.account.is_some())?;
    let item_most = plans.iter().map(|p| p.plan.totals.credits.1).max().unwrap_or(0);
    if !crate::plan::spends(&plans) || item_most == 0 {
        return Ok(None);
    }
    let Some(account) = payer.account.clone() else {
        return Err(SessionError::invalid(format!(
            "the workflow makes paid calls (up to {item_most} cr a frame, {} cr for the {} frames); \
             name the wallet that pays with --account",
            item_most.saturating_mul(items.len() as i64),
            items.len()
        )));
    };
    Ok(Some(RunBilling {
        account,
        member: payer.member.clone(),
        item_most,
        budget: payer.budget,
        policy: placement.policy.clone(),
        price_at_s: Some(price_at_s),
    }))
}

/// Refuses a billed run whose wallet or budget cannot cover even one task of `chunk` items
/// (it would only fail task after task); warns when they cannot cover the whole run.
pub async fn check_payer(farm: &Farm, billing: &RunBilling, chunk: u32, items: usize) -> Result<(), SessionError> {
    let task_most = billing.item_most.saturating_mul(i64::from(chunk.max(1)).min(items as i64));
    let run_most = billing.item_most.saturating_mul(items as i64);
    if let Some(budget) = billing.budget.filter(|b| *b < task_most) {
        return Err(SessionError::over_budget(format!(
            "a task of {chunk} frames may cost up to {task_most} cr, over the run's budget of {budget} cr; \
             raise --budget or lower --chunk"
        )));
    }
    let balance = farm
        .ledger()
        .balance(&billing.account)
        .await
        .map_err(|e| SessionError::invalid(format!("the wallet {}: {e}", billing.account)))?;
    let available = balance.available.0;
    if available < task_most {
        return Err(SessionError::over_budget(format!(
            "{} has {available} cr available; a task of {chunk} frames may cost up to {task_most} cr; top up first",
            billing.account
        )));
    }
    if available < run_most.min(billing.budget.unwrap_or(i64::MAX)) {
        tracing::warn!(
            account = %billing.account,
            available,
            run_most,
            "the wallet may not cover the whole run; tasks it cannot cover will fail uncharged"
        );
    }
    Ok(())
}

/// What a machine needs to run the workflow `text` (already validated): its nodes'
/// `requires`, joined.
pub fn requires_of(text: &str) -> Result<Requires, SessionError> {
    let parsed = switchyard_engine::format::parse_workflow(text);
    let file = parsed.file.ok_or_else(|| SessionError::invalid("the workflow does not parse"))?;
    let all = file.requires().map_err(SessionError::invalid)?;
    Ok(Requires { memory_gb: all.memory_gb.unwrap_or(0.0), gpu_brand: all.gpu_brand, tags: all.tags })
}

/// Refuses a run with host requirements whose tasks no registered worker can ever take
/// (too little memory, no GPU of the brand, a tag no machine has), naming what it needs and
/// what the workers offer. A run without requirements waits for any worker.
pub async fn check_compatible(farm: &Farm, requires: &Requires) -> Result<(), SessionError> {
    let failed = |e: switchyard_farm::FarmError| SessionError { code: crate::Code::Failed, message: e.to_string() };
    if *requires == Requires::default() || farm.compatible(requires, 0).await.map_err(failed)? {
        return Ok(());
    }
    let workers = farm.workers().await.map_err(failed)?;
    let offered: Vec<String> = workers
        .iter()
        .filter(|w| w.state == "active")
        .take(8)
        .map(|w| {
            format!(
                "{} ({:.0} GB, GPUs [{}], tags [{}])",
                w.id,
                w.memory_gb,
                w.gpu_brands.join(", "),
                w.tags.join(", ")
            )
        })
        .collect();
    let offered = if offered.is_empty() { "no active worker is registered".to_string() } else { offered.join("; ") };
    Err(SessionError::invalid(format!(
        "not compatible: no worker can run this workflow, which needs {}; the farm has {offered}; \
         start a worker that has it (switchyard worker --tag …) or change the nodes' \"requires\"",
        describe(requires)
    )))
}

/// Requirements in words: `at least 16 GB, a nvidia GPU, tags [licensed-nuke]`.
fn describe(r: &Requires) -> String {
    let mut parts = vec![format!("at least {} GB", r.memory_gb)];
    if let Some(b) = &r.gpu_brand {
        parts.push(format!("a {b} GPU"));
    }
    if !r.tags.is_empty() {
        parts.push(format!("tags [{}]", r.tags.join(", ")));
    }
    parts.join(", ")
}
