//! A check of the graph: validation, then placement and the quote by the chosen policy,
//! through the same billing and catalog calls as `switchyard quote`.

use switchyard_billing::place_graph;
use switchyard_engine::{Diagnostic, Graph};
use switchyard_nodes::onnx::{ASSUMED_INPUT_MEGAPIXELS, local_fit};
use switchyard_session::catalog::PlacementRules as Options;
use switchyard_session::placement::PlacementOptions;

use super::protocol::{Badge, Check, GraphQuote, Settings};

/// Validates `check.file`, then places and quotes it. `Err` holds every diagnostic;
/// `Ok(Err)` says why the valid graph cannot be placed.
pub fn quote(settings: &Settings, check: &Check) -> Result<Result<GraphQuote, String>, Vec<Diagnostic>> {
    let mut graph = compile(settings, check)?;
    Ok(place(settings, &mut graph, &check.policy))
}

/// The file compiled as `switchyard run` compiles it once read, with the same default limits;
/// the file is already in memory, so it is not written out and read back.
pub fn compile(settings: &Settings, check: &Check) -> Result<Graph, Vec<Diagnostic>> {
    let (registry, inputs) = (&settings.registry, &settings.inputs);
    switchyard_session::load::compile_in_memory(registry, &check.file, &check.input_root, inputs).map_err(|d| d.0)
}

/// Placement options for `graph` under `policy`, through the session layer as the command
/// line's are (the settings' time, deadline, routes and licences included).
pub fn options(settings: &Settings, graph: &Graph, policy: &str) -> Result<Options, String> {
    let opts = PlacementOptions { policy: policy.to_string(), ..settings.placement.clone() };
    switchyard_session::placement::options(&opts, &settings.catalog, graph, |manifest| fit(settings, manifest))
        .map_err(|e| e.to_string())
}

/// Places `graph` by `policy` and sets each placed node's provider.
pub fn place(settings: &Settings, graph: &mut Graph, policy: &str) -> Result<GraphQuote, String> {
    let opts = options(settings, graph, policy)?;
    let plan = place_graph(&settings.catalog, graph, &opts).map_err(|e| e.to_string())?;
    let mut quote = GraphQuote {
        credits: plan.plan.totals.credits,
        gco2eq: plan.plan.totals.gco2eq,
        makespan_s: plan.plan.totals.makespan_s,
        ..GraphQuote::default()
    };
    for node in &graph.nodes {
        let Some(p) = plan.placed(&node.id) else { continue };
        let q = &p.quote;
        let badge = Badge { placement: q.placement.clone(), credits: q.credits, gco2eq: q.gco2eq, why: q.why.clone() };
        quote.nodes.insert(node.id.as_str().to_string(), badge);
    }
    Ok(quote)
}

fn fit(settings: &Settings, manifest: &str) -> Result<f64, String> {
    let mut fits = settings.local_fits.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    fits.entry(manifest.to_string())
        .or_insert_with(|| local_fit(&settings.onnx, manifest, ASSUMED_INPUT_MEGAPIXELS))
        .clone()
}
