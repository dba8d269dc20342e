//! A run's plan: every item's cloud-capable nodes placed by the policy (their `provider`
//! set), this machine's local models offered where they fit; then, for a billed run,
//! admission of the items' summed quote and the nodes wrapped to spend through it. The
//! command line and the server both go through here.

use std::sync::Arc;

pub use switchyard_billing::GraphPlan;
use switchyard_billing::billed::wrap_graph;
use switchyard_billing::plan::capability;
use switchyard_billing::{Billing, place_graph};
use switchyard_catalog::Catalog;
use switchyard_catalog::quote::Totals;
use switchyard_engine::batch::BatchItem;
use switchyard_engine::{Graph, PROVIDER_PARAM, ParamValue};
use switchyard_nodes::onnx::{ASSUMED_INPUT_MEGAPIXELS, OnnxSettings, local_fit};

use crate::SessionError;
use crate::placement::PlacementOptions;
use crate::wallet::{Admission, WalletOptions};

/// Places every item (a batch's items share the options, probed once from the first). An
/// unbilled run whose graph pins every provider still runs when the catalog cannot price it.
pub fn place_items(
    items: &mut [BatchItem],
    catalog: &Catalog,
    opts: &PlacementOptions,
    onnx: &OnnxSettings,
    billed: bool,
) -> Result<Vec<GraphPlan>, SessionError> {
    let Some(first) = items.first() else { return Ok(Vec::new()) };
    let fit = |manifest: &str| local_fit(onnx, manifest, ASSUMED_INPUT_MEGAPIXELS);
    let rules = crate::placement::options(opts, catalog, &first.graph, fit)?;
    let mut plans = Vec::with_capacity(items.len());
    for item in items.iter_mut() {
        let plan = match place_graph(catalog, &mut item.graph, &rules) {
            Ok(plan) => plan,
            Err(e) if !billed && all_pinned(&item.graph) => {
                tracing::warn!(error = %e, "cannot price this workflow; running its pinned providers unbilled");
                GraphPlan::unplaced()
            }
            Err(e) if item.name.is_empty() => return Err(SessionError::invalid(e.to_string())),
            Err(e) => return Err(SessionError::invalid(format!("batch item {}: {e}", item.name))),
        };
        plans.push(plan);
    }
    Ok(plans)
}

/// Whether every cloud-capable node names its provider.
fn all_pinned(graph: &Graph) -> bool {
    graph.nodes.iter().filter(|n| capability(n).is_some()).all(|n| {
        n.params.iter().any(|(name, v)| *name == PROVIDER_PARAM && !matches!(v, ParamValue::Text(t) if t.is_empty()))
    })
}

/// The summed quote of a run's items.
pub fn totals(plans: &[GraphPlan]) -> Totals {
    let mut totals = Totals::default();
    for p in plans {
        totals.credits = (totals.credits.0 + p.plan.totals.credits.0, totals.credits.1 + p.plan.totals.credits.1);
        totals.gco2eq += p.plan.totals.gco2eq;
        totals.makespan_s = totals.makespan_s.max(p.plan.totals.makespan_s);
        totals.makespan_worst_s = totals.makespan_worst_s.max(p.plan.totals.makespan_worst_s);
    }
    totals
}

/// Whether any node of the run is placed on a provider (and so may spend).
pub fn spends(plans: &[GraphPlan]) -> bool {
    plans.iter().any(|p| p.plan.nodes.iter().any(Option::is_some))
}

/// Admits a billed run (recovery first, then the verdict and the reservation of its most)
/// and, when admitted, wraps every placed node to spend through the run's billing.
pub async fn admit_items(
    items: &mut [BatchItem],
    plans: &[GraphPlan],
    catalog: Arc<Catalog>,
    wallet: &WalletOptions,
) -> Result<Admission, SessionError> {
    let ledger = crate::wallet::open_for_run(wallet).await?;
    let admission = crate::wallet::admit(ledger, catalog, wallet, &totals(plans), &prompts_of(items)).await?;
    if let Admission::Admitted(billing) = &admission {
        wrap(items, plans, billing);
    }
    Ok(admission)
}

/// The text prompts a run's items send (each node's `prompt` param), for the fraud rules.
fn prompts_of(items: &[BatchItem]) -> Vec<String> {
    let params = items.iter().flat_map(|i| i.graph.nodes.iter()).flat_map(|n| n.params.iter());
    params
        .filter_map(|(name, value)| match (*name, value) {
            ("prompt", switchyard_engine::ParamValue::Text(text)) if !text.trim().is_empty() => Some(text.to_string()),
            _ => None,
        })
        .take(1_000)
        .collect()
}

/// Wraps every placed node so it spends through `billing`.
fn wrap(items: &mut [BatchItem], plans: &[GraphPlan], billing: &Arc<Billing>) {
    for (item, plan) in items.iter_mut().zip(plans) {
        wrap_graph(&mut item.graph, plan, billing, &item.name);
    }
}
