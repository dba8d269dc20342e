//! `switchyard validate --preflight`: a valid file, placed under the policy, with the keys,
//! the local models and the output folder a run would need.

use anyhow::Result;
use switchyard_engine::Graph;
use switchyard_session::preflight::{Finding, check};
use switchyard_session::settings::Config;

use super::Exit;
use super::args::ValidateArgs;
use super::placement::{load_catalog, options, place};

/// Places the graph and checks it; exit 2 with every finding, or 0 with the placements.
pub fn report(mut graph: Graph, args: &ValidateArgs, config: &Config) -> Result<Exit> {
    let path = &args.workflow.workflow;
    let mut placement = args.placement.clone();
    placement.default_from(&graph.run);
    let placement = &placement;
    let onnx = config.onnx_settings();
    let placed = load_catalog(placement).and_then(|catalog| {
        let opts = options(placement, &catalog, &graph, &onnx)?;
        place(&mut graph, &catalog, &opts)
    });
    let (findings, placements) = match placed {
        Ok(plan) => {
            let findings = check(&graph, &plan, &config.cloud_settings(), &onnx, &args.out);
            let placements: Vec<(String, String)> = graph
                .nodes
                .iter()
                .filter_map(|n| plan.placed(&n.id).map(|p| (n.id.to_string(), p.quote.placement.clone())))
                .collect();
            (findings, placements)
        }
        Err(e) => {
            let help = "try another --policy, or pin a provider the catalog has".to_string();
            (vec![Finding { node: None, message: format!("no placement: {e}"), help }], Vec::new())
        }
    };
    let ready = findings.is_empty();
    if args.json {
        let placements: serde_json::Map<String, serde_json::Value> =
            placements.into_iter().map(|(n, p)| (n, p.into())).collect();
        let doc = serde_json::json!({
            "valid": true, "ready": ready, "file": path, "nodes": graph.len(),
            "policy": placement.policy(), "placements": placements, "problems": findings,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if ready {
        println!("{}: valid and ready to run under {} ({} nodes)", path.display(), placement.policy(), graph.len());
        for (node, placement) in &placements {
            println!("  {node}: {placement}");
        }
    } else {
        eprintln!("{}: valid, but {} problem(s) would stop a run:", path.display(), findings.len());
        for f in &findings {
            let at = f.node.as_deref().map_or_else(String::new, |n| format!("{n}: "));
            eprintln!("  {at}{}\n    help: {}", f.message, f.help);
        }
    }
    Ok(if ready { Exit::Ok } else { Exit::Invalid })
}
