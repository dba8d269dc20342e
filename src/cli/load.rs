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
