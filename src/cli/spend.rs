//! A run that spends credits: the refusal before it starts (exit 3, with the quote shown),
//! cloud nodes wrapped to hold, post and void through the ledger, and the closing account of
//! quoted against charged credits and the run's gCO2eq.

use std::sync::Arc;

use switchyard_billing::{Billing, GraphPlan};
use switchyard_engine::batch::BatchItem;
use switchyard_session::account::RunAccount;
use switchyard_session::catalog::Catalog;
use switchyard_session::wallet::Admission;
use switchyard_session::{Code, SessionError};

use super::Exit;
use super::args::RunArgs;
use super::quote::node_lines;

/// Opens the wallet and admits the run through the session layer: the quote must fit the
/// balance, the budget and the member's cap, and its most is reserved; the placed nodes are
/// wrapped to spend through it. `Err` is the exit code when it does not fit or cannot open.
pub async fn open(
    args: &RunArgs,
    catalog: Catalog,
    items: &mut [BatchItem],
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
    match switchyard_session::plan::admit_items(items, plans, Arc::new(catalog), &wallet).await {
        Ok(Admission::Admitted(billing)) => Ok(billing),
        Ok(Admission::Refused(verdict)) => {
            let nodes = items.first().zip(plans.first()).map(|(i, p)| node_lines(&i.graph, p)).unwrap_or_default();
            for line in nodes.into_iter().chain(verdict.lines(&switchyard_session::plan::totals(plans))) {
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
    match code.exit_code() {
        3 => Exit::OverBudget,
        2 => Exit::Invalid,
        _ => Exit::Failed,
    }
}

/// The closing lines for people.
pub fn write(out: &mut impl std::fmt::Write, run: &RunAccount) {
    for n in &run.nodes {
        let charged = n.charged.map_or_else(|| "unbilled".to_string(), |c| format!("charged {c} cr"));
        let quoted = super::quote::credits_text(n.quoted);
        let _ = writeln!(out, "  {:<20} {:<44} quoted {quoted:<12} {charged}", n.node, n.placement);
    }
    let quoted = super::quote::credits_text(run.quoted);
    let _ = match (&run.account, run.charged) {
        (Some(a), Some(c)) => writeln!(out, "credits ({}): quoted {quoted}, charged {c} cr to {a}", run.policy),
        _ => {
            writeln!(out, "credits ({}): quoted {quoted}; unbilled (no --account: your own provider keys)", run.policy)
        }
    };
    let _ = writeln!(out, "carbon: about {:.2} gCO2eq for the cloud and local models run", run.gco2eq);
}
