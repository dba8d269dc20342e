//! Validation: the file format converted into a runtime [`Graph`], with every error collected.

mod ids;
mod stream;

use ids::{IdIndex, Ids};

pub use stream::{compile_streamed, compile_text};

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::format::{InputRef, NodeEntry, Override, ParsedWorkflow, WorkflowFile, apply_override, parse_workflow};
use crate::graph::{Graph, GraphNode, InputBinding, ParamBinding, Source};
use crate::ids::NodeId;
use crate::node::{CLOUD_PREFIX, Node, NodeSpec, ResourceClass};
use crate::params::{ParamKind, ParamValue, PathRole};
use crate::paths::InputRoots;
use crate::paths::check_output_path;
use crate::registry::{Registry, nearest};
use crate::types::PortType;

/// Node-id lookups, with the same fast seeded hasher as the file's maps.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Limits applied while validating.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// The most nodes a graph may have.
    pub max_nodes: usize,
    /// The workflow's folder (relative input paths resolve there) and where inputs may be
    /// read from; `None` checks no input paths.
    pub inputs: Option<(PathBuf, InputRoots)>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self { max_nodes: 50_000, inputs: None }
    }
}

/// Reads, overrides and validates a workflow in one step.
pub fn load_workflow(
    text: &str,
    registry: &Registry,
    overrides: &[Override],
    opts: &CompileOptions,
) -> Result<(WorkflowFile, Graph), Diagnostics> {
    if let Some(running) = stream::running_nodes(text)
        && running > opts.max_nodes
    {
        return Err(Diagnostics::from(too_large(running, opts.max_nodes)));
    }
    load_counted(text, registry, overrides, opts)
}

/// [`load_workflow`] once the node limit has been checked on a skim (or the skim found the
/// file not well formed, which the parse reports).
fn load_counted(
    text: &str,
    registry: &Registry,
    overrides: &[Override],
    opts: &CompileOptions,
) -> Result<(WorkflowFile, Graph), Diagnostics> {
    let mut parsed = parse_workflow(text);
    if let Some(file) = parsed.file.as_mut() {
        for o in overrides {
            if let Err(d) = apply_override(file, o, registry) {
                parsed.diagnostics.push(d);
            }
        }
    }
    let Some(file) = parsed.file.take() else {
        return Err(parsed.diagnostics);
    };
    let graph = compile_file(&file, parsed.diagnostics, &parsed.broken_nodes, registry, opts)?;
    Ok((file, graph))
}

/// The refusal of a graph with more running nodes than the limit.
fn too_large(running: usize, max_nodes: usize) -> Diagnostic {
    Diagnostic::file("graph-too-large", format!("the graph has {running} nodes; the limit is {max_nodes}"))
        .field("nodes")
        .help("split the workflow, or raise the limit with --max-nodes")
}

/// Validates a parsed file against the registry and builds the runtime graph.
pub fn compile(parsed: ParsedWorkflow, registry: &Registry, opts: &CompileOptions) -> Result<Graph, Diagnostics> {
    let ParsedWorkflow { file, diagnostics, broken_nodes } = parsed;
    let Some(file) = file else {
        return Err(diagnostics);
    };
    compile_file(&file, diagnostics, &broken_nodes, registry, opts)
}

fn compile_file(
    file: &WorkflowFile,
    mut diagnostics: Diagnostics,
    broken_nodes: &BTreeSet<String>,
    registry: &Registry,
    opts: &CompileOptions,
) -> Result<Graph, Diagnostics> {
    // For a parse tree from elsewhere (the editor's); `load_workflow` counted before parsing.
    let running = file.nodes.values().filter(|n| n.mode.is_always()).count() + broken_nodes.len();
    if running > opts.max_nodes {
        return Err(Diagnostics::from(too_large(running, opts.max_nodes)));
    }
    let mut broken = std::borrow::Cow::Borrowed(broken_nodes);
    let mut cut = BTreeSet::new();
    let resolved = crate::modes::resolve(file, registry, &mut diagnostics, &mut cut);
    let file = resolved.as_ref().unwrap_or(file);
    if !cut.is_empty() {
        broken.to_mut().extend(cut.iter().cloned());
    }
    let broken_nodes = broken.as_ref();
    let ids: Vec<&str> = file.nodes.keys().map(String::as_str).collect();
    // The file's keys are unique, so the index always builds.
    let Some(index) = IdIndex::new(Ids::Text(&ids)) else { return Err(diagnostics) };
    let impls: Vec<Option<&Arc<dyn Node>>> =
        file.nodes.iter().map(|(id, entry)| resolve_type(id, entry, registry, &mut diagnostics)).collect();
    let lookup = Lookup { ids: Ids::Text(&ids), index: &index, impls: &impls, broken: broken_nodes };
    let mut nodes = Vec::with_capacity(ids.len());
    for ((id, entry), imp) in file.nodes.iter().zip(&impls) {
        let Some(imp) = imp else { continue };
        nodes.push(check_node(&lookup, NodeId::new(id), entry, imp, &mut diagnostics));
    }
    // A node of unknown type is left out: the others are found at their file index.
    let file_index = (nodes.len() != ids.len())
        .then(|| nodes.iter().map(|n| index.get(Ids::Text(&ids), n.id.as_str()).map_or(0, |i| i as u32)).collect());
    let order = match topological_order(&nodes, ids.len(), file_index) {
        Ok(order) => order,
        Err(cycles) => {
            for cycle in cycles {
                diagnostics.push(cycle_diagnostic(&cycle, &ids));
            }
            Vec::new()
        }
    };
    if let Some((base, roots)) = &opts.inputs {
        check_input_paths(&nodes, base, roots, &mut diagnostics);
    }
    if let Err(why) = file.requires() {
        diagnostics.push(
            Diagnostic::file("conflicting-requires", why)
                .field("nodes")
                .help("make the GPU brands agree, or split the graph into workflows that run apart"),
        );
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut graph = Graph::from_sorted(file.name.clone(), reorder(nodes, &order));
    graph.run = file.run.clone().unwrap_or_default();
    Ok(graph)
}

/// Checks one node's entry against its type and the other nodes, and builds its graph node.
fn check_node(
    lookup: &Lookup,
    id: NodeId,
    entry: &NodeEntry,
    imp: &Arc<dyn Node>,
    diags: &mut Diagnostics,
) -> GraphNode {
    let checker = NodeChecker { id: id.as_str(), entry, node: imp.as_ref(), spec: imp.spec(), lookup };
    let (params, param_inputs) = checker.params_and_param_inputs(diags);
    let inputs = checker.inputs(diags);
    checker.placement(diags);
    checker.requires(diags);
    let placement = entry.placement.clone().map(Box::new);
    let quality = entry.quality.unwrap_or_default();
    let (params, inputs, param_inputs) = (params.into(), inputs.into(), param_inputs.into());
    GraphNode { id, node: Arc::clone(imp), params, inputs, param_inputs, placement, quality }
}

/// Refuses input paths set in the file (or by `--set`) outside the allowed folders.
fn check_input_paths(nodes: &[GraphNode], base: &Path, roots: &InputRoots, diags: &mut Diagnostics) {
    for n in nodes {
        for (name, value) in &n.params {
            let is_input = n
                .node
                .spec()
                .params
                .iter()
                .any(|p| p.name == *name && matches!(p.kind, ParamKind::Path { role: PathRole::Input }));
            if let (true, ParamValue::Text(path)) = (is_input, value)
                && let Some(why) = roots.refusal(base, Path::new(path.as_ref()))
            {
                diags.push(
                    Diagnostic::node("input-outside-roots", n.id.as_str(), why)
                        .field(format!("params.{name}"))
                        .help("move the file under an allowed folder, or add its folder to roots under [inputs] in switchyard.toml"),
                );
            }
        }
    }
}

fn resolve_type<'r>(
    id: &str,
    entry: &NodeEntry,
    registry: &'r Registry,
    diags: &mut Diagnostics,
) -> Option<&'r Arc<dyn Node>> {
    if !valid_node_id(id) {
        diags.push(
            Diagnostic::node("invalid-node-id", id, "node ids may hold only letters, digits, '_' and '-'")
                .help("rename the node; '.' separates a node from its port in wires"),
        );
    }
    let found = registry.get(&entry.type_name);
    if found.is_none() {
        let hint = registry.suggest(&entry.type_name).map_or_else(
            || "run `switchyard nodes` to list the node types".to_string(),
            |s| format!("did you mean {s:?}?"),
        );
        diags.push(
            Diagnostic::node("unknown-node-type", id, format!("unknown node type {:?}", entry.type_name))
                .field("type")
                .help(hint),
        );
    }
    found
}

fn valid_node_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What every node check needs to know about the other nodes, indexed by file order.
struct Lookup<'a> {
    ids: Ids<'a>,
    index: &'a IdIndex,
    impls: &'a [Option<&'a Arc<dyn Node>>],
    broken: &'a BTreeSet<String>,
}

struct NodeChecker<'a> {
    id: &'a str,
    entry: &'a NodeEntry,
    node: &'a dyn Node,
    spec: &'a NodeSpec,
    lookup: &'a Lookup<'a>,
}

impl NodeChecker<'_> {
    /// Placement and quality mean something only on nodes that may run in the cloud.
    fn placement(&self, diags: &mut Diagnostics) {
        if self.spec.resource == ResourceClass::Cloud {
            if let Some(max) = self.entry.placement.as_ref().and_then(|p| p.max_credits).filter(|m| *m < 0) {
                diags.push(self.diag("bad-placement", "placement.max_credits".into(), format!("{max} is negative")));
            }
            return;
        }
        for (field, given) in [("placement", self.entry.placement.is_some()), ("quality", self.entry.quality.is_some())]
        {
            if given {
                let message = format!(
                    "{} always runs on this machine; {field} applies to {CLOUD_PREFIX}* nodes",
                    self.spec.type_name
                );
                diags.push(self.diag("not-placeable", field.into(), message).help(format!("remove \"{field}\"")));
            }
        }
    }

    /// Host requirements must be ones a machine can meet.
    fn requires(&self, diags: &mut Diagnostics) {
        for (field, message) in self.entry.requires.as_ref().map(|r| r.problems()).unwrap_or_default() {
            diags.push(
                self.diag("bad-requires", field.into(), message).help(
                    "requires is { \"memory_gb\": 16, \"gpu_brand\": \"nvidia\", \"tags\": [\"licensed-nuke\"] }",
                ),
            );
        }
    }

    fn diag(&self, code: &'static str, field: String, message: String) -> Diagnostic {
        Diagnostic::node(code, self.id, message).field(field)
    }

    fn params_and_param_inputs(&self, diags: &mut Diagnostics) -> (Vec<(&'static str, ParamValue)>, Vec<ParamBinding>) {
        let mut given: Vec<(&str, ParamValue)> = Vec::with_capacity(self.entry.params.len());
        for (name, json) in &self.entry.params {
            let field = || format!("params.{name}");
            let Some(ps) = self.spec.param_spec(name) else {
                let names = self.spec.params.iter().map(|p| p.name);
                let help = nearest(name, names.clone()).map_or_else(
                    || format!("{} takes params: {}", self.spec.type_name, list_or_none(names)),
                    |n| format!("did you mean {n:?}?"),
                );
                diags.push(
                    self.diag("unknown-param", field(), format!("{} has no param {name:?}", self.spec.type_name))
                        .help(help),
                );
                continue;
            };
            if self.entry.inputs.contains_key(name) {
                diags.push(
                    self.diag(
                        "param-and-input",
                        field(),
                        format!("param {name:?} is set both as a value and as a wired input"),
                    )
                    .help("remove one of the two"),
                );
            }
            match ps.kind.from_json(json) {
                Ok(v) => {
                    self.check_output_path(&ps.kind, &v, &field, diags);
                    if let Err(p) = self.node.check_param(ps.name, &v) {
                        diags.push(self.diag("invalid-param", field(), p.message).help(p.help));
                    }
                    given.push((ps.name, v));
                }
                Err(msg) => diags
                    .push(self.diag("invalid-param", field(), msg).help(format!("{}: {}", ps.name, ps.description))),
            }
        }
        // Exact sizes: a million-node graph holds a million of each.
        let wired = self.spec.params.iter().filter(|p| self.entry.inputs.contains_key(p.name)).count();
        let mut params = Vec::with_capacity(self.spec.params.len() - wired);
        let mut bindings = Vec::with_capacity(wired);
        for ps in &self.spec.params {
            if let Some(r) = self.entry.inputs.get(ps.name) {
                if let Some(source) = self.param_source(ps.name, &ps.kind, r, diags) {
                    bindings.push(ParamBinding { param: ps.name, source });
                }
                continue;
            }
            let from_file = given.iter().position(|(n, _)| *n == ps.name).map(|i| given.swap_remove(i).1);
            match from_file.or_else(|| ps.default.clone()) {
                Some(v) => params.push((ps.name, v)),
                None => diags.push(
                    self.diag(
                        "missing-param",
                        format!("params.{}", ps.name),
                        format!("required param {:?} is not set", ps.name),
                    )
                    .help(format!("set it to {}: {}", ps.kind.describe(), ps.description)),
                ),
            }
        }
        (params, bindings)
    }

    fn check_output_path(
        &self,
        kind: &ParamKind,
        value: &ParamValue,
        field: &dyn Fn() -> String,
        diags: &mut Diagnostics,
    ) {
        if let (ParamKind::Path { role: PathRole::Output }, ParamValue::Text(p)) = (kind, value)
            && let Err(why) = check_output_path(p)
        {
            diags.push(
                self.diag("output-path-escapes", field(), format!("output path {p:?} is refused: {why}"))
                    .help("use a relative path inside the output folder (--out)"),
            );
        }
    }

    fn param_source(&self, name: &str, kind: &ParamKind, r: &InputRef, diags: &mut Diagnostics) -> Option<Source> {
        let field = || format!("inputs.{name}");
        let InputRef::One(wire) = r else {
            diags.push(self.diag("too-many-sources", field(), format!("param {name:?} takes one wire, got a list")));
            return None;
        };
        let (source, ty) = self.resolve_wire(wire, &field, diags)?;
        let want = kind.port_type();
        if !want.accepts(ty) {
            diags.push(self.type_mismatch(&field(), name, want, wire, ty));
            return None;
        }
        Some(source)
    }

    fn inputs(&self, diags: &mut Diagnostics) -> Vec<InputBinding> {
        let mut bindings = Vec::with_capacity(self.spec.inputs.len().min(self.entry.inputs.len()));
        for (name, r) in &self.entry.inputs {
            let field = || format!("inputs.{name}");
            let Some(is) = self.spec.inputs.iter().find(|i| i.name == name) else {
                if self.spec.param_spec(name).is_none() {
                    let names = self.spec.inputs.iter().map(|i| i.name).chain(self.spec.params.iter().map(|p| p.name));
                    let help = nearest(name, names.clone()).map_or_else(
                        || {
                            format!(
                                "{} takes inputs: {}",
                                self.spec.type_name,
                                list_or_none(self.spec.inputs.iter().map(|i| i.name))
                            )
                        },
                        |n| format!("did you mean {n:?}?"),
                    );
                    diags.push(
                        self.diag("unknown-input", field(), format!("{} has no input {name:?}", self.spec.type_name))
                            .help(help),
                    );
                }
                continue;
            };
            let wires = r.sources();
            if wires.is_empty() || wires.len() > is.max_sources {
                let takes =
                    if is.max_sources == 1 { "one wire".to_string() } else { format!("1 to {} wires", is.max_sources) };
                diags.push(
                    self.diag(
                        "too-many-sources",
                        field(),
                        format!("input {name:?} takes {takes}, got {}", wires.len()),
                    )
                    .help("combine images first (image.blend, image.grid), or wire one source"),
                );
                continue;
            }
            let mut sources = Vec::with_capacity(wires.len());
            for wire in wires {
                if let Some((source, ty)) = self.resolve_wire(wire, &field, diags) {
                    if is.ty.accepts(ty) {
                        sources.push(source);
                    } else {
                        diags.push(self.type_mismatch(&field(), name, is.ty, wire, ty));
                    }
                }
            }
            bindings.push(InputBinding { port: is.name, sources });
        }
        for is in self.spec.inputs.iter().filter(|i| !i.optional && !self.entry.inputs.contains_key(i.name)) {
            diags.push(
                self.diag(
                    "missing-input",
                    format!("inputs.{}", is.name),
                    format!("required input {:?} ({}) is not wired", is.name, is.ty),
                )
                .help(format!("wire it: \"inputs\": {{ \"{}\": \"<node>.<output port>\" }}", is.name)),
            );
        }
        bindings
    }

    fn type_mismatch(&self, field: &str, name: &str, want: PortType, wire: &str, got: PortType) -> Diagnostic {
        self.diag("type-mismatch", field.to_string(), format!("input {name:?} takes {want}, but {wire:?} gives {got}"))
            .help(format!("wire an output of type {want} here"))
    }

    /// Resolves `"node.port"`. Stays quiet about nodes already reported as broken or of unknown type.
    fn resolve_wire(
        &self,
        wire: &str,
        field: &dyn Fn() -> String,
        diags: &mut Diagnostics,
    ) -> Option<(Source, PortType)> {
        let Some((node, port)) = wire.split_once('.') else {
            diags.push(
                self.diag("bad-reference", field(), format!("{wire:?} is not a wire"))
                    .help("write \"<node>.<output port>\", for example \"noise.image\""),
            );
            return None;
        };
        let Some(upstream) = self.lookup.index.get(self.lookup.ids, node) else {
            if !self.lookup.broken.contains(node) {
                let hint = nearest(node, self.lookup.ids.iter()).map(|n| format!("did you mean {n:?}?"));
                diags.push(
                    self.diag(
                        "unknown-node",
                        field(),
                        format!("{wire:?} names node {node:?}, which the workflow lacks"),
                    )
                    .maybe_help(hint),
                );
            }
            return None;
        };
        let spec = self.lookup.impls[upstream]?.spec();
        let Some((output, out)) = spec.outputs.iter().enumerate().find(|(_, o)| o.name == port) else {
            let ports = list_or_none(spec.outputs.iter().map(|o| o.name));
            diags.push(
                self.diag(
                    "unknown-port",
                    field(),
                    format!("{wire:?}: node {node:?} ({}) has no output {port:?}", spec.type_name),
                )
                .help(format!("its outputs are: {ports}")),
            );
            return None;
        };
        Some((Source { node: upstream, output }, out.ty))
    }
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<_> = names.collect();
    if list.is_empty() { "none".to_string() } else { list.join(", ") }
}

/// A topological order of file indices (Kahn's algorithm), or every cycle found (as file
/// indices, first node repeated at the end). `file_index` says where each node sits in the
/// file, or is `None` where every node is there in file order. Indices are `u32`, as in
/// [`Graph`]: a file of at most 64 MiB has far fewer nodes and wires.
fn topological_order(
    nodes: &[GraphNode],
    count: usize,
    file_index: Option<Vec<u32>>,
) -> Result<Vec<u32>, Vec<Vec<usize>>> {
    let at = |k: usize| file_index.as_ref().map_or(k, |f| f[k] as usize);
    // Each node's dependants, flattened (one allocation, not one per node), in file order.
    let mut starts = vec![0u32; count + 1];
    let mut unmet = vec![0u32; count];
    for (k, node) in nodes.iter().enumerate() {
        for from in node.upstream() {
            starts[from + 1] += 1;
            unmet[at(k)] += 1;
        }
    }
    for i in 0..count {
        starts[i + 1] += starts[i];
    }
    let mut dependants = vec![0u32; starts[count] as usize];
    let mut next_slot = starts.clone();
    for (k, node) in nodes.iter().enumerate() {
        for from in node.upstream() {
            dependants[next_slot[from] as usize] = at(k) as u32;
            next_slot[from] += 1;
        }
    }
    drop(next_slot);
    let of = |at: usize| &dependants[starts[at] as usize..starts[at + 1] as usize];
    let mut order: Vec<u32> = Vec::with_capacity(count);
    order.extend((0..count).filter(|&i| unmet[i] == 0).map(|i| i as u32));
    let mut next = 0;
    while next < order.len() {
        let at = order[next] as usize;
        next += 1;
        for &d in of(at) {
            unmet[d as usize] -= 1;
            if unmet[d as usize] == 0 {
                order.push(d);
            }
        }
    }
    if order.len() == count {
        return Ok(order);
    }
    // Only a graph with a cycle gets here; petgraph finds and orders the cycles for the message.
    let mut dag: DiGraph<(), ()> = DiGraph::with_capacity(count, count);
    for _ in 0..count {
        dag.add_node(());
    }
    for from in 0..count {
        for &to in of(from) {
            dag.add_edge(NodeIndex::new(from), NodeIndex::new(to as usize), ());
        }
    }
    Err(find_cycles(&dag))
}

fn find_cycles(dag: &DiGraph<(), ()>) -> Vec<Vec<usize>> {
    let mut cycles = Vec::new();
    for scc in petgraph::algo::tarjan_scc(dag) {
        let start = scc.iter().copied().min_by_key(|n| n.index());
        let Some(start) = start else { continue };
        let self_loop = dag.contains_edge(start, start);
        if scc.len() == 1 && !self_loop {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        cycles.push(cycle_path(dag, start, &members));
    }
    cycles.sort();
    cycles
}

/// A path from `start` back to itself inside one strongly connected component (breadth-first, so shortest).
fn cycle_path(dag: &DiGraph<(), ()>, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<usize> {
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = dag.neighbors(at).filter(|n| members.contains(n)).collect();
        next.sort();
        for n in next {
            if n == start {
                // Walk back from `at` to `start`, then read it forwards and close the loop.
                let mut path = vec![at.index()];
                let mut cur = at;
                while cur != start {
                    cur = parent[&cur];
                    path.push(cur.index());
                }
                path.reverse();
                path.push(start.index());
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(n) {
                e.insert(at);
                queue.push_back(n);
            }
        }
    }
    vec![start.index(), start.index()]
}

fn cycle_diagnostic(cycle: &[usize], ids: &[&str]) -> Diagnostic {
    let shown: Vec<&str> = cycle.iter().map(|&i| ids[i]).collect();
    Diagnostic::node("cycle", ids[cycle[0]], format!("the graph has a cycle: {}", shown.join(" -> ")))
        .field("inputs")
        .help("a node cannot depend on its own output; remove one of these wires")
}

/// Puts nodes into topological order and rewrites their wires to the new indices, in place
/// (a second vector of a million nodes would double the graph's memory).
fn reorder(mut nodes: Vec<GraphNode>, order: &[u32]) -> Vec<GraphNode> {
    let mut new_index = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old as usize] = new as u32;
    }
    // Only a valid graph is reordered: every node is present and in file order.
    if nodes.len() != order.len() {
        return nodes;
    }
    for node in &mut nodes {
        for s in node.inputs.iter_mut().flat_map(|b| b.sources.iter_mut()) {
            s.node = new_index[s.node] as usize;
        }
        for p in &mut node.param_inputs {
            p.source.node = new_index[p.source.node] as usize;
        }
    }
    // Follow each cycle of the permutation, swapping every node into its place.
    for start in 0..nodes.len() {
        while new_index[start] as usize != start {
            let to = new_index[start] as usize;
            nodes.swap(start, to);
            new_index.swap(start, to);
        }
    }
    nodes
}
