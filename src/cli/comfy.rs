//! `switchyard import comfy` and `switchyard export comfy`: glue over `session::comfy`.

use std::path::Path;

use anyhow::{Context, Result};
use switchyard_engine::Registry;
use switchyard_session::comfy::ImportError;

use super::Exit;

pub fn import(registry: &Registry, file: &Path, out: Option<&Path>) -> Result<Exit> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return Ok(Exit::Invalid);
        }
    };
    let name = file.file_stem().map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned());
    let imported = match switchyard_session::comfy::import_text(&text, &name, registry) {
        Ok(imported) => imported,
        Err(e) => return Ok(refused(file, &e)),
    };
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    write(out, &serde_json::to_string_pretty(&imported.workflow)?)?;
    Ok(Exit::Ok)
}

/// Says every node at fault, one a line.
fn refused(file: &Path, e: &ImportError) -> Exit {
    match e {
        ImportError::Unmapped(nodes) => {
            eprintln!("error: {}: {} node(s) have no Switchyard equivalent:", file.display(), nodes.len());
            for n in nodes {
                let nearest =
                    n.nearest.as_ref().map(|t| format!(" (nearest Switchyard node: {t})")).unwrap_or_default();
                eprintln!("  node {}: {}{nearest}", n.id, n.class_type);
            }
        }
        ImportError::Invalid(problems) => {
            eprintln!("error: {}: {} problem(s):", file.display(), problems.len());
            for p in problems {
                eprintln!("  node {} ({}): {}", p.id, p.class_type, p.message);
            }
        }
        ImportError::Format(why) => eprintln!("error: {}: {why}", file.display()),
    }
    Exit::Invalid
}

pub fn export(registry: &Registry, workflow: &Path, out: Option<&Path>) -> Result<Exit> {
    let text = std::fs::read_to_string(workflow).with_context(|| format!("reading {}", workflow.display()))?;
    let parsed = match serde_json::from_str(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {} is not a Switchyard workflow: {e}", workflow.display());
            return Ok(Exit::Invalid);
        }
    };
    match switchyard_session::comfy::export(&parsed, registry) {
        Ok(prompt) => {
            write(out, &serde_json::to_string_pretty(&prompt)?)?;
            Ok(Exit::Ok)
        }
        Err(why) => {
            eprintln!("error: {}: {why}", workflow.display());
            Ok(Exit::Invalid)
        }
    }
}

fn write(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}
