//! `switchyard quote`: every cloud-capable node placed by policy and priced before anything
//! runs, with the totals against the wallet and the budget.

use anyhow::Result;
use switchyard_billing::GraphPlan;
pub use switchyard_billing::verdict::{Verdict, credits_text};
use switchyard_engine::{Graph, Registry};
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::catalog::{NodeQuote, eta_text};

use super::Exit;
use super::args::{QuoteArgs, WalletArgs};
use super::load::{load_and_compile, print_diagnostics};
use super::placement::{load_catalog, options, place};

pub fn quote(registry: &Registry, args: &QuoteArgs, onnx: &OnnxSettings) -> Result<Exit> {
    let path = &args.workflow.workflow;
    let mut graph = match load_and_compile(registry, &args.workflow, &[]) {
        Ok((_, g)) => g,
        Err(diags) => {
            print_diagnostics(path, &diags, args.json);
            return Ok(Exit::Invalid);
        }
    };
    let (mut placement, mut wallet) = (args.placement.clone(), args.wallet.clone());
    placement.default_from(&graph.run);
    wallet.default_from(&graph.run);
    let (placement, wallet) = (&placement, &wallet);
    let placed = load_catalog(placement).and_then(|catalog| {
        let opts = options(placement, &catalog, &graph, onnx)?;
        place(&mut graph, &catalog, &opts)
    });
    let mut plan = match placed {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    plan.mark_kept(&graph);
    let verdict = match &wallet.account {
        Some(account) => match room(wallet, account) {
            Ok((a, member)) => Verdict::new(plan.plan.totals.credits.1, Some(a), wallet.budget).member(member),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
        },
        None => Verdict::new(plan.plan.totals.credits.1, None, wallet.budget),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json(&graph, &plan, &verdict, placement.policy()))?);
    } else {
        for line in node_lines(&graph, &plan).into_iter().chain(verdict.lines(&plan.plan.totals)) {
            println!("{line}");
        }
    }
    Ok(if verdict.fits() { Exit::Ok } else { Exit::OverBudget })
}

fn json(graph: &Graph, plan: &GraphPlan, v: &Verdict, policy: &str) -> serde_json::Value {
    let nodes: Vec<_> = graph
        .nodes
        .iter()
        .map(|n| match plan.placed(&n.id) {
            Some(p) => {
                let mut q = serde_json::to_value(&p.quote).unwrap_or_default();
                if let Some(obj) = q.as_object_mut() {
                    obj.insert("candidates".into(), serde_json::to_value(&p.candidates).unwrap_or_default());
                }
                q
            }
            None => serde_json::json!({ "node": n.id.as_str(), "placement": "local", "credits": [0, 0] }),
        })
        .collect();
    let after = v.available.map(|a| a - v.most);
    serde_json::json!({
        "policy": policy,
        "nodes": nodes,
        "totals": plan.plan.totals,
        "available": v.available,
        "balance_after_max": after,
        "budget": v.budget,
        "fits": v.fits(),
    })
}

/// One line per node: its placement, credits, ETA, gCO2eq and why.
pub fn node_lines(graph: &Graph, plan: &GraphPlan) -> Vec<String> {
    let line = |n: &switchyard_engine::GraphNode| match plan.placed(&n.id) {
        None => format!("{}: local, 0 cr", n.id.as_str()),
        Some(p) => node_line(&p.quote),
    };
    graph.nodes.iter().map(line).collect()
}

fn node_line(q: &NodeQuote) -> String {
    if q.cached {
        return format!("{}: {} 0 cr, cached (paid for before: the kept result is reused)", q.node, q.placement);
    }
    format!(
        "{}: {} {}, {}, {:.2} gCO2eq ({})",
        q.node,
        q.placement,
        credits_text(q.credits),
        eta_text(q.eta_s),
        q.gco2eq,
        q.why
    )
}

/// The wallet's available credits and the member's room; an unknown wallet or member is an
/// error, and a missing ledger is not created.
fn room(wallet: &WalletArgs, account: &str) -> Result<(i64, Option<(String, i64)>), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let opts = wallet.options(account);
        let ledger = switchyard_session::wallet::open(&opts).await.map_err(|e| e.to_string())?;
        let room = switchyard_session::wallet::room(&ledger, &opts).await.map_err(|e| e.to_string())?;
        Ok((room.available, room.member))
    })
}
