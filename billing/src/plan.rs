//! A compiled graph placed by policy: its capability nodes become catalog needs, the plan
//! comes back, and each placed node's `provider` param is set to its pick.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use switchyard_catalog::Catalog;
use switchyard_catalog::place::{Need, Options, PlaceError, Placed, Plan, Prefs};
use switchyard_catalog::quote::Call;
use switchyard_engine::format::Quality;
use switchyard_engine::{Graph, GraphNode, NodeId, PROVIDER_PARAM, ParamValue, ResourceClass, cloud_capability};

/// A graph's placement, with what each placed node was given, looked up by node id.
#[derive(Clone, Debug)]
pub struct GraphPlan {
    /// The catalog's plan (its nodes in the graph's order when it was placed).
    pub plan: Plan,
    /// Each node's index in `plan.nodes`.
    index: HashMap<NodeId, usize>,
}

impl GraphPlan {
    fn new(graph: &Graph, plan: Plan) -> Self {
        let placed = graph.nodes.iter().zip(&plan.nodes).enumerate().filter(|(_, (_, p))| p.is_some());
        let index = placed.map(|(i, (n, _))| (n.id.clone(), i)).collect();
        Self { plan, index }
    }

    /// No node placed (and nothing held per node: a graph may have a million local nodes).
    pub fn unplaced() -> Self {
        Self { plan: Plan { nodes: Vec::new(), totals: Default::default() }, index: HashMap::new() }
    }

    /// Where node `id` was placed, if it was (a report, a graph and a plan are matched by
    /// node id, never by position).
    pub fn placed(&self, id: &NodeId) -> Option<&Placed> {
        self.plan.nodes.get(*self.index.get(id)?)?.as_ref()
    }

    /// Marks each placed node whose request was paid for before (the node says its result
    /// is kept) as cached at 0 cr, and takes it out of the totals' credits and gCO2eq. For
    /// quotes people read: a run's admission holds the full price, in case the kept result
    /// is gone by the time the node runs. Only nodes without wired inputs can tell before the
    /// run.
    pub fn mark_kept(&mut self, graph: &Graph) {
        for node in graph.nodes.iter().filter(|n| n.upstream().next().is_none() && n.param_inputs.is_empty()) {
            let Some(&i) = self.index.get(&node.id) else { continue };
            let Some(Some(placed)) = self.plan.nodes.get_mut(i) else { continue };
            if placed.quote.cached || node.node.kept(&node.params) != Some(true) {
                continue;
            }
            let totals = &mut self.plan.totals;
            let (lo, hi) = placed.quote.credits;
            totals.credits = (totals.credits.0 - lo, totals.credits.1 - hi);
            totals.gco2eq = (totals.gco2eq - placed.quote.gco2eq).max(0.0);
            placed.quote.mark_cached();
        }
    }
}

/// A param as the catalog reads it.
pub fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Text(t) => t.to_string(),
    }
}

/// The capability a node serves, for nodes that can be placed (`cloud.*`).
pub fn capability(node: &GraphNode) -> Option<&'static str> {
    let spec = node.node.spec();
    (spec.resource == ResourceClass::Cloud).then(|| cloud_capability(spec.type_name)).flatten()
}

fn need(node: &GraphNode, capability: &str) -> Need {
    let spec = node.node.spec();
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    let mut set = BTreeSet::new();
    for (name, value) in &node.params {
        if spec.param_spec(name).is_none_or(|p| p.default.as_ref() != Some(value)) {
            set.insert(name.to_string());
        }
        params.insert(name.to_string(), param_text(value));
    }
    // A param driven by a wire is set, to a value not known yet.
    set.extend(node.param_inputs.iter().map(|b| b.param.to_string()));
    let model = params.remove(PROVIDER_PARAM).unwrap_or_default();
    set.remove(PROVIDER_PARAM);
    let p = node.placement();
    let prefs = Prefs {
        pin: p.pin.clone(),
        order: p.order.clone(),
        allow_fallbacks: p.fallbacks(),
        max_credits: p.max_credits,
        only: p.only.clone(),
        ignore: p.ignore.clone(),
    };
    Need {
        call: Call::new(node.id.as_str(), capability, &model, params),
        set,
        prefs,
        final_quality: node.quality == Quality::Final,
    }
}

/// Offers `opts` the catalog's local models that serve a capability `graph` uses, each with
/// `fit(manifest)`: its typical seconds here, or why it cannot run here.
pub fn offer_local_models(
    catalog: &Catalog,
    graph: &Graph,
    opts: &mut Options,
    fit: impl Fn(&str) -> Result<f64, String>,
) {
    let wanted: BTreeSet<&str> = graph.nodes.iter().filter_map(capability).collect();
    for local in catalog.local.iter().filter(|l| l.serves.iter().any(|s| wanted.contains(s.as_str()))) {
        opts.local.insert(local.id.clone(), fit(&local.manifest));
    }
}

/// Places every capability node of `graph` and sets its `provider` param to the pick.
pub fn place_graph(catalog: &Catalog, graph: &mut Graph, opts: &Options) -> Result<GraphPlan, PlaceError> {
    if !graph.nodes.iter().any(|n| capability(n).is_some()) {
        return Ok(GraphPlan::unplaced());
    }
    let shape: Vec<(Option<Need>, Vec<usize>)> =
        graph.nodes.iter().map(|n| (capability(n).map(|c| need(n, c)), n.upstream().collect())).collect();
    let plan = catalog.plan(&shape, opts)?;
    for (node, placed) in graph.nodes.iter_mut().zip(&plan.nodes) {
        let Some(placed) = placed else { continue };
        let Some(first) = placed.candidates.first() else { continue };
        match node.params.iter_mut().find(|(n, _)| *n == PROVIDER_PARAM) {
            Some(slot) => slot.1 = ParamValue::Text(first.id.as_str().into()),
            None => {
                let mut params = std::mem::take(&mut node.params).into_vec();
                params.push((PROVIDER_PARAM, ParamValue::Text(first.id.as_str().into())));
                node.params = params.into();
            }
        }
    }
    Ok(GraphPlan::new(graph, plan))
}

/// Each cloud-capable node placed on its own (no graph-wide pass: no deadline, no spill
/// between providers), for telling which nodes a failed graph placement is about and quoting
/// the rest. By node id; local nodes are absent.
pub fn place_each(catalog: &Catalog, graph: &Graph, opts: &Options) -> Vec<(NodeId, Result<Placed, PlaceError>)> {
    let one = |n: &GraphNode| {
        let need = need(n, capability(n)?);
        let placed = catalog.plan(&[(Some(need), Vec::new())], opts).map(|p| p.nodes.into_iter().flatten().next());
        let placed = match placed {
            Ok(Some(p)) => Ok(p),
            Ok(None) => return None,
            Err(e) => Err(e),
        };
        Some((n.id.clone(), placed))
    };
    graph.nodes.iter().filter_map(one).collect()
}
