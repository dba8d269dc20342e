//! Loading and validation before anything runs: the file read (regular files only, within
//! the size limit), `--set` overrides, the input-root policy, and a batch expanded into items
//! that are each validated. Problems come back as every diagnostic, never the first alone.

use std::path::{Path, PathBuf};

use switchyard_engine::batch::{BatchItem, item_names};
use switchyard_engine::format::{MAX_FILE_BYTES, Override, ParsedWorkflow, WorkflowFile, parse_override};
use switchyard_engine::{
    CompileOptions, Diagnostic, Diagnostics, Graph, InputRoots, PathRoots, Provenance, Registry, compile_text,
};

/// The most files one batch glob may match.
pub const BATCH_MAX_ITEMS: usize = 100_000;

/// A workflow to load, as a front end names it.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The workflow file.
    pub workflow: PathBuf,
    /// `node.param=value` overrides, in order.
    pub overrides: Vec<String>,
    /// The most nodes the graph may have.
    pub max_nodes: usize,
    /// Where inputs may be read from.
    pub inputs: InputRoots,
}

/// Run a workflow once per file a glob matches, binding each file to one param.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// The glob, relative to the current folder.
    pub pattern: String,
    /// `node.param` that takes each file's path.
    pub bind: String,
}

/// The workflow's text and the folder its input paths resolve against.
pub struct Source {
    /// The file's text, shared with every saved image's provenance.
    pub text: std::sync::Arc<String>,
    /// Its folder, canonical.
    pub input_root: PathBuf,
    /// Overrides that came with it: those a PNG's run applied (they go before the flags').
    pub overrides: Vec<String>,
}

impl Source {
    /// A workflow's text, read from `input_root`, with no overrides of its own.
    pub fn text(text: String, input_root: PathBuf) -> Self {
        Self { text: std::sync::Arc::new(text), input_root, overrides: Vec::new() }
    }

    /// What saved images of a run with `overrides` (after the source's own) carry.
    pub fn provenance(&self, overrides: &[String]) -> Provenance {
        let overrides = self.overrides.iter().chain(overrides).cloned().collect();
        let workflow = std::sync::Arc::clone(&self.text);
        Provenance { workflow, overrides }
    }

    /// `roots` with the provenance `graph`'s saved files carry, where it saves any: a graph
    /// that writes nothing does not hold on to the text (tens of MB for a large graph).
    pub fn carried_by(&self, roots: PathRoots, graph: &Graph, overrides: &[String]) -> PathRoots {
        if graph.has_side_effects() { roots.with_provenance(self.provenance(overrides)) } else { roots }
    }
}

/// Reads the file, refusing what is too large, not UTF-8, or not a regular file. A PNG that
/// Switchyard saved yields the workflow it carries (its relative inputs resolve beside it).
pub fn read_source(path: &Path) -> Result<Source, Diagnostics> {
    let unreadable =
        |why: String| Diagnostics::from(Diagnostic::file("unreadable-file", format!("{}: {why}", path.display())));
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let input_root = parent.canonicalize().map_err(|e| unreadable(e.to_string()))?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        let file = switchyard_engine::open_input_file(path).map_err(|e| unreadable(e.to_string()))?;
        let found = switchyard_nodes::embedded::workflow_in_png(std::io::BufReader::new(file)).map_err(unreadable)?;
        return Ok(Source { overrides: found.overrides, ..Source::text(found.workflow, input_root) });
    }
    let text =
        switchyard_engine::read_input_text(path, MAX_FILE_BYTES as u64).map_err(|e| unreadable(e.to_string()))?;
    Ok(Source::text(text, input_root))
}

/// Parses every override, collecting all malformed ones.
pub fn parse_overrides(raw: &[String]) -> Result<Vec<Override>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let parsed: Vec<Override> = raw.iter().filter_map(|r| parse_override(r).map_err(|d| diags.push(d)).ok()).collect();
    if diags.is_empty() { Ok(parsed) } else { Err(diags) }
}

/// Validates `source` with `overrides`, under the options' limits and input roots.
pub fn compile(
    registry: &Registry,
    source: &Source,
    overrides: &[Override],
    opts: &LoadOptions,
) -> Result<Graph, Diagnostics> {
    let compile =
        CompileOptions { max_nodes: opts.max_nodes, inputs: Some((source.input_root.clone(), opts.inputs.clone())) };
    compile_text(&source.text, registry, overrides, &compile)
}

/// Validates a workflow already in memory (the editor's), as a file in `input_root` would be.
pub fn compile_in_memory(
    registry: &Registry,
    file: &WorkflowFile,
    input_root: &Path,
    inputs: &InputRoots,
) -> Result<Graph, Diagnostics> {
    let parsed = ParsedWorkflow { file: Some(file.clone()), ..ParsedWorkflow::default() };
    let opts = CompileOptions { inputs: Some((input_root.to_path_buf(), inputs.clone())), ..CompileOptions::default() };
    switchyard_engine::compile(parsed, registry, &opts)
}

/// Reads, overrides (the options', then `extra`) and validates.
pub fn load(registry: &Registry, opts: &LoadOptions, extra: &[Override]) -> Result<(Source, Graph), Diagnostics> {
    let source = read_source(&opts.workflow)?;
    let mut overrides = parse_overrides(&source.overrides)?;
    overrides.extend(parse_overrides(&opts.overrides)?);
    overrides.extend_from_slice(extra);
    let graph = compile(registry, &source, &overrides, opts)?;
    Ok((source, graph))
}

/// Everything a run will do, validated before anything runs: one item, or one per batch
/// file, each writing under `out`.
pub fn prepare(
    registry: &Registry,
    opts: &LoadOptions,
    batch: Option<&BatchOptions>,
    out: &Path,
) -> Result<Vec<BatchItem>, Diagnostics> {
    let roots = |source: &Source, graph: &Graph, overrides: &[String]| {
        let roots = PathRoots::new(&source.input_root, out).with_inputs(opts.inputs.clone());
        source.carried_by(roots, graph, overrides)
    };
    let Some(batch) = batch else {
        let (source, graph) = load(registry, opts, &[])?;
        let paths = roots(&source, &graph, &opts.overrides);
        return Ok(vec![BatchItem { name: String::new(), paths, graph }]);
    };
    let (node, param) = batch.bind.split_once('.').ok_or_else(|| {
        Diagnostic::file("bad-bind", format!("--bind {:?} is not of the form node.param", batch.bind))
            .help("for example --bind load.path")
    })?;
    let files = glob_files(&batch.pattern)?;
    let source = read_source(&opts.workflow)?;
    let mut base = parse_overrides(&source.overrides)?;
    base.extend(parse_overrides(&opts.overrides)?);
    let mut diags = Diagnostics::default();
    let mut items = Vec::with_capacity(files.len());
    for (file, name) in files.iter().zip(item_names(&files)) {
        let mut overrides = base.clone();
        overrides.push(Override { node: node.into(), param: param.into(), raw: file.to_string_lossy().into_owned() });
        let bound = format!("{node}.{param}={}", file.to_string_lossy());
        match compile(registry, &source, &overrides, opts) {
            Ok(graph) => {
                let typed: Vec<String> = opts.overrides.iter().cloned().chain([bound]).collect();
                let paths = roots(&source, &graph, &typed);
                items.push(BatchItem { name, graph, paths });
            }
            Err(d) => {
                for mut e in d.0 {
                    e.message = format!("batch item {}: {}", file.display(), e.message);
                    diags.push(e);
                }
            }
        }
    }
    if diags.is_empty() { Ok(items) } else { Err(diags) }
}

/// The files a `--batch` glob matches: absolute, sorted, at least one and at most the batch
/// limit.
pub fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, Diagnostics> {
    let bad = |msg: String| Diagnostics::from(Diagnostic::file("bad-batch", msg));
    let entries = glob::glob(pattern).map_err(|e| bad(format!("--batch {pattern:?} is not a valid glob: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| bad(format!("--batch: {e}")))?;
        if path.is_file() {
            files.push(path.canonicalize().map_err(|e| bad(format!("{}: {e}", path.display())))?);
        }
        if files.len() > BATCH_MAX_ITEMS {
            return Err(bad(format!("--batch {pattern:?} matches more than {BATCH_MAX_ITEMS} files; split the batch")));
        }
    }
    if files.is_empty() {
        let none = Diagnostic::file("bad-batch", format!("--batch {pattern:?} matches no files"));
        return Err(none.help("check the pattern; it is relative to the current folder").into());
    }
    files.sort();
    Ok(files)
}

/// Cuts every item down to what its outputs need (`only`, else its saves), as ComfyUI runs
/// only what leads to an output. Returns the items and the ids left out (the items share a
/// graph, so the first item's).
pub fn prune(items: Vec<BatchItem>, only: &[String]) -> Result<(Vec<BatchItem>, Vec<String>), String> {
    let mut pruned = None;
    let mut out = Vec::with_capacity(items.len());
    for mut item in items {
        let (graph, left) = item.graph.prune(only)?;
        item.graph = graph;
        pruned.get_or_insert_with(|| left.nodes.iter().map(|n| n.as_str().to_string()).collect());
        out.push(item);
    }
    Ok((out, pruned.unwrap_or_default()))
}
