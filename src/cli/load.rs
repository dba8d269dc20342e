//! Reading a workflow file, applying `--set`, validating; and `switchyard validate`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use switchyard_engine::format::{MAX_FILE_BYTES, Override, parse_override};
use switchyard_engine::{CompileOptions, Diagnostic, Diagnostics, Graph, Registry, load_workflow};

use super::Exit;
use super::args::{ValidateArgs, WorkflowArgs};

/// The workflow's text and the folder its input paths resolve against.
pub struct Source {
    pub text: String,
    pub input_root: PathBuf,
}

/// Reads the file, refusing what is too large or not UTF-8.
pub fn read_source(path: &Path) -> Result<Source, Diagnostics> {
    let unreadable =
        |why: String| Diagnostics::from(Diagnostic::file("unreadable-file", format!("{}: {why}", path.display())));
    let text =
        switchyard_engine::read_input_text(path, MAX_FILE_BYTES as u64).map_err(|e| unreadable(e.to_string()))?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let input_root = parent.canonicalize().map_err(|e| unreadable(e.to_string()))?;
    Ok(Source { text, input_root })
}

/// Parses every `--set`, collecting all malformed ones.
pub fn parse_overrides(raw: &[String]) -> Result<Vec<Override>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let parsed: Vec<Override> = raw.iter().filter_map(|r| parse_override(r).map_err(|d| diags.push(d)).ok()).collect();
    if diags.is_empty() { Ok(parsed) } else { Err(diags) }
}

/// Validates the source with the given overrides.
pub fn compile(
    registry: &Registry,
    source: &Source,
    overrides: &[Override],
    args: &WorkflowArgs,
) -> Result<Graph, Diagnostics> {
    let opts =
        CompileOptions { max_nodes: args.max_nodes, inputs: Some((source.input_root.clone(), args.inputs.clone())) };
    load_workflow(&source.text, registry, overrides, &opts).map(|(_, graph)| graph)
}

/// Prints diagnostics for a person, or as JSON.
pub fn print_diagnostics(path: &Path, diags: &Diagnostics, json: bool) {
    if json {
        let doc = serde_json::json!({ "valid": false, "file": path, "errors": diags });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        eprintln!("{}: {} problem(s) found", path.display(), diags.len());
        eprint!("{diags}");
    }
}

pub fn validate(registry: &Registry, args: &ValidateArgs) -> Result<Exit> {
    let path = &args.workflow.workflow;
    let result = load_and_compile(registry, &args.workflow, &[]);
    match result {
        Ok((_, graph)) => {
            if args.json {
                println!("{}", serde_json::json!({ "valid": true, "file": path, "nodes": graph.len() }));
            } else {
                println!("{}: valid ({} nodes)", path.display(), graph.len());
            }
            Ok(Exit::Ok)
        }
        Err(diags) => {
            print_diagnostics(path, &diags, args.json);
            Ok(Exit::Invalid)
        }
    }
}

/// Reads, overrides (the `--set` flags, then `extra`) and validates.
pub fn load_and_compile(
    registry: &Registry,
    args: &WorkflowArgs,
    extra: &[Override],
) -> Result<(Source, Graph), Diagnostics> {
    let source = read_source(&args.workflow)?;
    let mut overrides = parse_overrides(&args.overrides)?;
    overrides.extend_from_slice(extra);
    let graph = compile(registry, &source, &overrides, args)?;
    Ok((source, graph))
}
