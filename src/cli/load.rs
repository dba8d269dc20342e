//! `switchyard validate`, and the workflow flags as the session layer's load options.

use std::path::Path;

use anyhow::Result;
use switchyard_engine::format::Override;
use switchyard_engine::{Diagnostics, Graph, Registry};
use switchyard_session::load::{LoadOptions, Source};
use switchyard_session::settings::Config;

use super::Exit;
use super::args::{ValidateArgs, WorkflowArgs};

impl WorkflowArgs {
    /// The session layer's load options.
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            workflow: self.workflow.clone(),
            overrides: self.overrides.clone(),
            max_nodes: self.max_nodes,
            inputs: self.inputs.clone(),
        }
    }
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

pub fn validate(registry: &Registry, args: &ValidateArgs, config: &Config) -> Result<Exit> {
    let path = &args.workflow.workflow;
    let result = load_and_compile(registry, &args.workflow, &[]);
    match result {
        Ok((_, graph)) if args.preflight => super::preflight::report(graph, args, config),
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
    switchyard_session::load::load(registry, &args.options(), extra)
}

/// `switchyard fmt`: each file rewritten in canonical form (or, with `check`, named when it
/// is not). A file that does not parse is named and left alone (exit 2).
pub fn format_files(files: &[std::path::PathBuf], check: bool) -> Result<Exit> {
    let mut exit = Exit::Ok;
    for path in files {
        let source = match switchyard_session::load::read_source(path) {
            Ok(s) => s,
            Err(d) => {
                print_diagnostics(path, &d, false);
                exit = Exit::Invalid;
                continue;
            }
        };
        let parsed = switchyard_engine::format::parse_workflow(&source.text);
        let Some(file) = parsed.file.filter(|_| parsed.diagnostics.is_empty()) else {
            print_diagnostics(path, &parsed.diagnostics, false);
            exit = Exit::Invalid;
            continue;
        };
        let text = switchyard_engine::format::to_canonical_text(&file);
        if text == *source.text {
            continue;
        }
        if check {
            println!("{}: not in canonical form", path.display());
            if exit == Exit::Ok {
                exit = Exit::Failed;
            }
        } else {
            std::fs::write(path, text)?;
            println!("{}: formatted", path.display());
        }
    }
    Ok(exit)
}
