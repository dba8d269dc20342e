//! A run that spends credits: the refusal before it starts (exit 3, with the quote shown),
//! cloud nodes wrapped to hold, post and void through the ledger, and the closing account of
//! quoted against charged credits and the run's gCO2eq.

use std::sync::Arc;

use serde::Serialize;
use switchyard_billing::billed::wrap_graph;
use switchyard_billing::{Billing, CreditsRecord, GraphPlan};
use switchyard_catalog::Catalog;
use switchyard_engine::batch::BatchItem;
use switchyard_engine::{NodeStatus, RunReport};
use switchyard_session::wallet::Admission;
use switchyard_session::{Code, SessionError};

use super::Exit;
use super::args::RunArgs;
use super::quote::node_lines;

/// Opens the wallet and admits the run through the session layer: the quote must fit the
/// balance, the budget and the member's cap, and its most is reserved. `Err` is the exit
/// code when it does not fit or cannot be opened.
pub async fn open(
    args: &RunArgs,
    catalog: Catalog,
    items: &[BatchItem],
    plans: &[GraphPlan],
) -> Result<Arc<Billing>, Exit> {
    let wallet = args.wallet.options(args.wallet.account.as_deref().unwrap_or_default());
    let refused = |e: SessionError| {
        eprintln!("error: {e}");
        if e.code == Code::OverBudget {
            eprintln!("refused before starting: nothing was run or charged (exit 3)");
        }
        exit_of(e.code)
    };
    let ledger = switchyard_session::wallet::open(&wallet).await.map_err(refused)?;
    let mut totals = switchyard_catalog::quote::Totals::default();
    for p in plans {
        totals.credits = (totals.credits.0 + p.plan.totals.credits.0, totals.credits.1 + p.plan.totals.credits.1);
        totals.gco2eq += p.plan.totals.gco2eq;
        totals.makespan_s = totals.makespan_s.max(p.plan.totals.makespan_s);
    }
    match switchyard_session::wallet::admit(ledger, Arc::new(catalog), &wallet, &totals).await {
        Ok(Admission::Admitted(billing)) => Ok(billing),
        Ok(Admission::Refused(verdict)) => {
            let nodes = items.first().zip(plans.first()).map(|(i, p)| node_lines(&i.graph, p)).unwrap_or_default();
            for line in nodes.into_iter().chain(verdict.lines(&totals)) {
                eprintln!("{line}");
            }
            eprintln!("refused before starting: nothing was run or charged (exit 3)");
            Err(Exit::OverBudget)
        }
        Err(e) => Err(refused(e)),
    }
}

/// The exit code of a session outcome.
fn exit_of(code: Code) -> Exit {
    match code {
        Code::OverBudget => Exit::OverBudget,
        Code::Invalid => Exit::Invalid,
        _ => Exit::Failed,
    }
}

/// Wraps every placed node so it spends through `billing`.
pub fn wrap(items: &mut [BatchItem], plans: &[GraphPlan], billing: &Arc<Billing>) {
    for (item, plan) in items.iter_mut().zip(plans) {
        wrap_graph(&mut item.graph, plan, billing, &item.name);
    }
}

/// One placed node's account.
#[derive(Serialize)]
struct NodeSpend {
    node: String,
    placement: String,
    quoted: (i64, i64),
    charged: Option<i64>,
    status: NodeStatus,
}

/// The run's account: quoted against charged, and the gCO2eq of the work done.
#[derive(Serialize)]
pub struct Spent {
    policy: String,
    account: Option<String>,
    quoted: (i64, i64),
    charged: Option<i64>,
    gco2eq: f64,
    nodes: Vec<NodeSpend>,
}

impl Spent {
    /// From the plans and the run reports (each node's metering record carries its charge).
    pub fn new(args: &RunArgs, plans: &[GraphPlan], reports: &[RunReport]) -> Option<Self> {
        let billed = args.wallet.account.is_some();
        let mut s = Spent {
            policy: args.placement.policy.clone(),
            account: args.wallet.account.clone(),
            quoted: (0, 0),
            charged: billed.then_some(0),
            gco2eq: 0.0,
            nodes: Vec::new(),
        };
        for (plan, report) in plans.iter().zip(reports) {
            for n in &report.nodes {
                let Some(placed) = plan.placed(&n.id) else { continue };
                let record = n.metering.as_ref().and_then(CreditsRecord::of);
                let charged = record.as_ref().map(|r| r.charged);
                let placement = record.as_ref().map(|r| r.placement.as_str());
                if n.status == NodeStatus::Executed {
                    s.gco2eq += record.as_ref().map_or(placed.quote.gco2eq, |r| r.gco2eq);
                }
                let q = placed.quote.credits;
                s.quoted = (s.quoted.0 + q.0, s.quoted.1 + q.1);
                s.charged = s.charged.map(|c| c + charged.unwrap_or(0));
                s.nodes.push(NodeSpend {
                    node: n.id.as_str().to_string(),
                    placement: placement.unwrap_or(&placed.quote.placement).to_string(),
                    quoted: q,
                    charged: billed.then_some(charged.unwrap_or(0)),
                    status: n.status,
                });
            }
        }
        (!s.nodes.is_empty()).then_some(s)
    }

    /// The closing lines for people.
    pub fn print(&self) {
        for n in &self.nodes {
            let charged = n.charged.map_or_else(|| "unbilled".to_string(), |c| format!("charged {c} cr"));
            let quoted = super::quote::credits_text(n.quoted);
            eprintln!("  {:<20} {:<44} quoted {quoted:<12} {charged}", n.node, n.placement);
        }
        let quoted = super::quote::credits_text(self.quoted);
        match (&self.account, self.charged) {
            (Some(a), Some(c)) => eprintln!("credits ({}): quoted {quoted}, charged {c} cr to {a}", self.policy),
            _ => {
                eprintln!("credits ({}): quoted {quoted}; unbilled (no --account: your own provider keys)", self.policy)
            }
        }
        eprintln!("carbon: about {:.2} gCO2eq for the cloud and local models run", self.gco2eq);
    }
}
