//! A check of the graph: validation, then placement and the quote by the chosen policy,
//! through the same billing and catalog calls as `switchyard quote`. A node at fault is
//! reported on that node only: the rest of the graph is still quoted.

use std::collections::BTreeSet;

use switchyard_billing::{place_each, place_graph};
use switchyard_engine::format::{InputRef, WorkflowFile};
use switchyard_engine::{Diagnostic, Graph};
use switchyard_nodes::onnx::{ASSUMED_INPUT_MEGAPIXELS, local_fit};
use switchyard_session::catalog::PlacementRules as Options;
use switchyard_session::placement::PlacementOptions;

use super::protocol::{Badge, Check, CheckResult, GraphQuote, Settings};

/// Rounds of setting aside nodes at fault before quoting what is left.
const PRUNE_ROUNDS_MAX: usize = 8;

/// Validates `check.file`, then places and quotes it, or, when some nodes are at fault, the
/// nodes that are not (and do not depend on one that is).
pub fn quote(settings: &Settings, check: &Check) -> CheckResult {
    match compile(settings, check) {
        Ok(mut graph) => CheckResult { problems: Vec::new(), quote: Some(place(settings, &mut graph, check)) },
        Err(problems) => {
            let quote = valid_part(settings, check, &problems).map(|mut g| place(settings, &mut g, check));
            CheckResult { problems, quote }
        }
    }
}

/// The graph without the nodes `problems` are about and what hangs off them, compiled; `None`
/// when a problem is about the whole file or nothing valid is left.
fn valid_part(settings: &Settings, check: &Check, problems: &[Diagnostic]) -> Option<Graph> {
    let mut file = check.file.clone();
    let mut problems = problems.to_vec();
    for _ in 0..PRUNE_ROUNDS_MAX {
        let faulty: BTreeSet<String> = problems.iter().map(|d| d.node.clone()).collect::<Option<_>>()?;
        set_aside(&mut file, &faulty);
        if file.nodes.is_empty() {
            return None;
        }
        let part = Check { file: file.clone(), ..check.clone() };
        match compile(settings, &part) {
            Ok(graph) => return Some(graph),
            Err(more) => problems = more,
        }
    }
    None
}

/// Removes `faulty` nodes and the wires from them (a node left without a required input is
/// at fault in the next round).
fn set_aside(file: &mut WorkflowFile, faulty: &BTreeSet<String>) {
    file.nodes.retain(|id, _| !faulty.contains(id));
    let from_faulty = |w: &String| w.rsplit_once('.').is_some_and(|(n, _)| faulty.contains(n));
    for entry in file.nodes.values_mut() {
        for wires in entry.inputs.values_mut() {
            if let InputRef::Many(list) = wires {
                list.retain(|w| !from_faulty(w));
            }
        }
        entry.inputs.retain(|_, w| !w.sources().iter().any(from_faulty) && !w.sources().is_empty());
    }
}

/// The file compiled as `switchyard run` compiles it once read, with the same default limits;
/// the file is already in memory, so it is not written out and read back.
pub fn compile(settings: &Settings, check: &Check) -> Result<Graph, Vec<Diagnostic>> {
    let (registry, inputs) = (&settings.registry, &settings.inputs);
    switchyard_session::load::compile_in_memory(registry, &check.file, &check.input_root, inputs).map_err(|d| d.0)
}

/// Placement options for `graph` under the check's policy, through the session layer as the
/// command line's are: the settings' time and licences, and the deadline and routes of the
/// file's run settings (else the settings').
pub fn options(settings: &Settings, graph: &Graph, check: &Check) -> Result<Options, String> {
    let mut opts = PlacementOptions { policy: check.policy.clone(), ..settings.placement.clone() };
    if check.deadline.is_some() {
        opts.deadline.clone_from(&check.deadline);
    }
    if !check.routes.is_empty() {
        opts.routes.clone_from(&check.routes);
    }
    switchyard_session::placement::options(&opts, &settings.catalog, graph, |manifest| fit(settings, manifest))
        .map_err(|e| e.to_string())
}

/// Places `graph` by `policy` and sets each placed node's provider. When the graph cannot be
/// placed as a whole, each node is placed on its own so the error lands on the nodes at
/// fault and the others still show their badges; the graph is then blocked from running.
pub fn place(settings: &Settings, graph: &mut Graph, check: &Check) -> Result<GraphQuote, String> {
    let opts = options(settings, graph, check)?;
    let mut plan = match place_graph(&settings.catalog, graph, &opts) {
        Ok(plan) => plan,
        Err(e) => return Ok(placed_one_by_one(settings, graph, &opts, e.to_string())),
    };
    plan.mark_kept(graph);
    let mut quote = GraphQuote {
        credits: plan.plan.totals.credits,
        gco2eq: plan.plan.totals.gco2eq,
        makespan_s: plan.plan.totals.makespan_s,
        ..GraphQuote::default()
    };
    for node in &graph.nodes {
        let Some(p) = plan.placed(&node.id) else { continue };
        quote.nodes.insert(node.id.as_str().to_string(), badge(&p.quote));
    }
    Ok(quote)
}

fn placed_one_by_one(settings: &Settings, graph: &Graph, opts: &Options, why: String) -> GraphQuote {
    let mut quote = GraphQuote { blocked: Some(why), ..GraphQuote::default() };
    for (id, placed) in place_each(&settings.catalog, graph, opts) {
        match placed {
            Ok(p) => {
                quote.credits = (quote.credits.0 + p.quote.credits.0, quote.credits.1 + p.quote.credits.1);
                quote.gco2eq += p.quote.gco2eq;
                quote.nodes.insert(id.to_string(), badge(&p.quote));
            }
            Err(e) => {
                let text = e.to_string();
                let text = text.strip_prefix(&format!("{id}: ")).unwrap_or(&text).to_string();
                quote.node_errors.insert(id.to_string(), text);
            }
        }
    }
    quote
}

fn badge(q: &switchyard_session::catalog::NodeQuote) -> Badge {
    Badge { placement: q.placement.clone(), credits: q.credits, gco2eq: q.gco2eq, why: q.why.clone(), cached: q.cached }
}

fn fit(settings: &Settings, manifest: &str) -> Result<f64, String> {
    let mut fits = settings.local_fits.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    fits.entry(manifest.to_string())
        .or_insert_with(|| local_fit(&settings.onnx, manifest, ASSUMED_INPUT_MEGAPIXELS))
        .clone()
}
