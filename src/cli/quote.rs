//! `switchyard quote`: every cloud node priced from the catalog before anything runs.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use switchyard_catalog::Catalog;
use switchyard_catalog::quote::{Call, NodeQuote, totals};
use switchyard_engine::{ParamValue, Registry};

use super::Exit;
use super::args::QuoteArgs;
use super::load::{load_and_compile, print_diagnostics};

fn text(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Text(t) => t.to_string(),
    }
}

fn catalog(args: &QuoteArgs) -> Result<Catalog> {
    let Some(file) = &args.catalog else { return Ok(Catalog::builtin()) };
    let body = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Catalog::parse(&body, switchyard_catalog::CARBON_CSV).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

pub fn quote(registry: &Registry, args: &QuoteArgs) -> Result<Exit> {
    let path = &args.workflow.workflow;
    let graph = match load_and_compile(registry, &args.workflow, &[]) {
        Ok((_, g)) => g,
        Err(diags) => {
            print_diagnostics(path, &diags, args.json);
            return Ok(Exit::Invalid);
        }
    };
    let catalog = catalog(args)?;
    let mut quotes: Vec<Option<NodeQuote>> = Vec::with_capacity(graph.nodes.len());
    for n in &graph.nodes {
        let Some(capability) = n.node.spec().type_name.strip_prefix("cloud.") else {
            quotes.push(None);
            continue;
        };
        let params: BTreeMap<String, String> = n.params.iter().map(|(k, v)| (k.to_string(), text(v))).collect();
        let model = params.get("provider").cloned().unwrap_or_default();
        match catalog.quote(&Call::new(n.id.as_str(), capability, &model, params)) {
            Ok(q) => quotes.push(Some(q)),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
        }
    }
    let shape: Vec<_> =
        graph.nodes.iter().zip(&quotes).map(|(n, q)| (q.as_ref(), n.upstream().collect::<Vec<_>>())).collect();
    let total = totals(&shape);
    let available = match &args.account {
        Some(account) => Some(available(args, account)?),
        None => None,
    };
    let over_balance = available.filter(|a| total.credits.1 > *a);
    let over_budget = args.budget.filter(|b| total.credits.1 > *b);
    let fits = over_balance.is_none() && over_budget.is_none();
    if args.json {
        let nodes: Vec<_> = graph
            .nodes
            .iter()
            .zip(&quotes)
            .map(|(n, q)| match q {
                Some(q) => serde_json::to_value(q).unwrap_or_default(),
                None => serde_json::json!({ "node": n.id.as_str(), "placement": "local", "credits": [0, 0] }),
            })
            .collect();
        let after = available.map(|a| a - total.credits.1);
        let doc = serde_json::json!({ "nodes": nodes, "totals": total, "available": available, "balance_after_max": after, "budget": args.budget, "fits": fits });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_text(&graph.nodes.iter().map(|n| n.id.as_str().to_string()).collect::<Vec<_>>(), &quotes);
        let range = |(lo, hi): (i64, i64)| if lo == hi { format!("{hi} cr") } else { format!("{lo}-{hi} cr") };
        println!(
            "total: {}, about {:.0} s, about {:.1} gCO2eq{}",
            range(total.credits),
            total.makespan_s,
            total.gco2eq,
            available.map_or(String::new(), |a| format!("; {a} cr available, {} after at most", a - total.credits.1))
        );
        match (over_balance, over_budget) {
            (None, None) => println!("fits"),
            (Some(a), _) => println!("does NOT fit: at most {} cr against {a} cr available", total.credits.1),
            (None, Some(b)) => println!("does NOT fit: at most {} cr against the budget of {b} cr", total.credits.1),
        }
    }
    Ok(if fits { Exit::Ok } else { Exit::OverBudget })
}

fn print_text(ids: &[String], quotes: &[Option<NodeQuote>]) {
    for (id, q) in ids.iter().zip(quotes) {
        match q {
            None => println!("{id}: local, 0 cr"),
            Some(q) => {
                let cr = if q.credits.0 == q.credits.1 {
                    format!("{}", q.credits.1)
                } else {
                    format!("{}-{}", q.credits.0, q.credits.1)
                };
                println!(
                    "{id}: {} {cr} cr, ETA {:.0}-{:.0} s, {:.2} gCO2eq ({})",
                    q.placement, q.eta_s.0, q.eta_s.1, q.gco2eq, q.why
                );
            }
        }
    }
}

fn available(args: &QuoteArgs, account: &str) -> Result<i64> {
    let path = super::credits::ledger_path(args.ledger.clone())?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ledger = switchyard_ledger::Ledger::open(&path).await?;
        Ok(ledger.balance(account).await?.available.0)
    })
}
