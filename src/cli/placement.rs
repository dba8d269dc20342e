//! Placement for `quote` and `run`, through the session layer: the flags as its plain
//! options, and this machine's local models offered where they fit.

use switchyard_billing::{GraphPlan, place_graph};
use switchyard_engine::Graph;
use switchyard_nodes::onnx::{ASSUMED_INPUT_MEGAPIXELS, OnnxSettings, local_fit};
use switchyard_session::catalog::Catalog;
use switchyard_session::catalog::PlacementRules as Options;
use switchyard_session::placement::PlacementOptions;

use super::args::PlacementArgs;

impl From<&PlacementArgs> for PlacementOptions {
    fn from(a: &PlacementArgs) -> Self {
        PlacementOptions {
            policy: a.policy().to_string(),
            deadline: a.deadline.clone(),
            at: a.at.clone(),
            catalog: a.catalog.clone(),
            routes: a.routes.clone(),
            licences: a.licences.clone(),
        }
    }
}

/// The shipped catalog, or the user's.
pub fn load_catalog(args: &PlacementArgs) -> Result<Catalog, String> {
    switchyard_session::placement::load_catalog(&args.into()).map_err(|e| e.to_string())
}

/// Places every capability node of `graph`.
pub fn place(graph: &mut Graph, catalog: &Catalog, opts: &Options) -> Result<GraphPlan, String> {
    place_graph(catalog, graph, opts).map_err(|e| e.to_string())
}

/// The flags' placement options, once for every graph of a run.
pub fn options(args: &PlacementArgs, catalog: &Catalog, graph: &Graph, onnx: &OnnxSettings) -> Result<Options, String> {
    let fit = |manifest: &str| local_fit(onnx, manifest, ASSUMED_INPUT_MEGAPIXELS);
    switchyard_session::placement::options(&args.into(), catalog, graph, fit).map_err(|e| e.to_string())
}
