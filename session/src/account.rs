//! A run's typed outcome in credits and carbon: each placed node's placement, quote, charge
//! and status, matched by node id, and the run's totals. Every front end reports from this
//! (the command line's summary, the editor's status line, a server's run record).

use serde::Serialize;
use switchyard_billing::{CreditsRecord, GraphPlan};
use switchyard_engine::{NodeStatus, RunReport};

/// One placed node's account.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeAccount {
    /// The node (with its batch item, where there is one, in the report's id).
    pub node: String,
    /// Where it ran (or was placed, if it did not run).
    pub placement: String,
    /// The quote's least and most.
    pub quoted: (i64, i64),
    /// What was charged, when billed.
    pub charged: Option<i64>,
    /// How it ended.
    pub status: NodeStatus,
    /// Providers that refused it first.
    pub fell_back_from: Vec<String>,
}

/// The run's account: quoted against charged, and the gCO2eq of the work done.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunAccount {
    /// The placement policy.
    pub policy: String,
    /// The wallet, when billed.
    pub account: Option<String>,
    /// The quotes' least and most, summed.
    pub quoted: (i64, i64),
    /// What was charged, when billed.
    pub charged: Option<i64>,
    /// Estimated gCO2eq of the nodes that ran.
    pub gco2eq: f64,
    /// Each placed node.
    pub nodes: Vec<NodeAccount>,
}

impl RunAccount {
    /// From the plans and the run reports of a run (or a batch's items, in the same order);
    /// `None` when no node was placed.
    pub fn of(policy: &str, account: Option<&str>, plans: &[GraphPlan], reports: &[RunReport]) -> Option<Self> {
        let billed = account.is_some();
        let mut run = RunAccount {
            policy: policy.to_string(),
            account: account.map(str::to_string),
            quoted: (0, 0),
            charged: billed.then_some(0),
            gco2eq: 0.0,
            nodes: Vec::new(),
        };
        for (plan, report) in plans.iter().zip(reports) {
            for n in &report.nodes {
                let Some(placed) = plan.placed(&n.id) else { continue };
                let record = n.metering().and_then(CreditsRecord::of);
                if n.status == NodeStatus::Executed {
                    run.gco2eq += record.as_ref().map_or(placed.quote.gco2eq, |r| r.gco2eq);
                }
                let charged = record.as_ref().map_or(0, |r| r.charged);
                let q = placed.quote.credits;
                run.quoted = (run.quoted.0 + q.0, run.quoted.1 + q.1);
                run.charged = run.charged.map(|c| c + charged);
                run.nodes.push(NodeAccount {
                    node: n.id.as_str().to_string(),
                    placement: record.as_ref().map_or_else(|| placed.quote.placement.clone(), |r| r.placement.clone()),
                    quoted: q,
                    charged: billed.then_some(charged),
                    status: n.status,
                    fell_back_from: record
                        .map(|r| r.fell_back_from.into_iter().map(|f| f.placement).collect())
                        .unwrap_or_default(),
                });
            }
        }
        (!run.nodes.is_empty()).then_some(run)
    }
}

/// The use of each placed node of a run (local and cloud), for usage analytics: what it
/// cost, and for a local node what its cheapest cloud placement would have cost.
pub fn usage_records(plans: &[GraphPlan], reports: &[RunReport]) -> Vec<switchyard_ledger::UsageRecord> {
    let mut records = Vec::new();
    for (plan, report) in plans.iter().zip(reports) {
        for n in &report.nodes {
            let Some(placed) = plan.placed(&n.id) else { continue };
            if !matches!(n.status, NodeStatus::Executed | NodeStatus::Failed) {
                continue;
            }
            let record = n.metering().and_then(CreditsRecord::of);
            let placement = record.as_ref().map_or(placed.quote.placement.as_str(), |r| r.placement.as_str());
            let (provider, model) = split_placement(placement);
            let local = provider == "local";
            let cloud_equiv = placed
                .candidates
                .iter()
                .filter(|c| !c.id.starts_with("local:"))
                .map(|c| c.credits.0)
                .min()
                .unwrap_or(0);
            records.push(switchyard_ledger::UsageRecord {
                node_id: n.id.as_str().to_string(),
                node_type: n.type_name.to_string(),
                provider: provider.to_string(),
                model: model.to_string(),
                local,
                failed: n.status == NodeStatus::Failed,
                credits: record.as_ref().map_or(0, |r| r.charged),
                cloud_equiv: if local { cloud_equiv } else { 0 },
                gco2eq: record.as_ref().map_or(placed.quote.gco2eq, |r| r.gco2eq),
            });
        }
    }
    records
}

/// `provider:model@region/route` (or `local:name`) as its provider and model.
fn split_placement(placement: &str) -> (&str, &str) {
    let (provider, rest) = placement.split_once(':').unwrap_or(("unknown", placement));
    (provider, rest.split('@').next().unwrap_or(rest))
}

/// Records a billed run's use in its wallet's ledger as it ends. A failure is logged, never
/// the run's: analytics never fail work that was done and paid for.
pub async fn record_usage(
    ledger: &switchyard_ledger::Ledger,
    billing: &switchyard_billing::Billing,
    plans: &[GraphPlan],
    reports: &[RunReport],
) {
    let records = usage_records(plans, reports);
    if records.is_empty() {
        return;
    }
    let run_id = billing.run_id.to_string();
    if let Err(e) = ledger.record_usage(&run_id, &billing.account, billing.member.as_deref(), &records).await {
        tracing::warn!(error = %e, run = %run_id, "cannot record the run's usage for analytics");
    }
}
