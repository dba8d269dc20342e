//! Pre-flight: what would stop a run that validation alone does not see, checked before a
//! farm TD submits 2,000 frames. Each finding names the node (or the folder), what is wrong
//! and how to fix it.

use std::path::Path;

use serde::Serialize;
use switchyard_billing::GraphPlan;
use switchyard_engine::Graph;
use switchyard_nodes::cloud::{CloudSettings, key_missing};
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_nodes::onnx::manifest;

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The node at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// The placed graph's provider keys and local models, and the output folder.
pub fn check(graph: &Graph, plan: &GraphPlan, cloud: &CloudSettings, onnx: &OnnxSettings, out: &Path) -> Vec<Finding> {
    let mut found = Vec::new();
    for n in &graph.nodes {
        let Some(placed) = plan.placed(&n.id) else { continue };
        let node = Some(n.id.to_string());
        let placement = &placed.quote.placement;
        match placement.split_once(':') {
            Some(("local", model)) => {
                if let Err(e) = manifest::load(&onnx.manifest_path(model)) {
                    let help = format!("put {model}.onnx and its manifest in {}", onnx.models_dir.display());
                    found.push(Finding { node, message: format!("placed on {placement}, but {e}"), help });
                }
            }
            Some((provider, _)) => {
                if let Some(help) = key_missing(cloud, provider) {
                    let message = format!("placed on {placement}, but no {provider} API key is set");
                    found.push(Finding { node, message, help });
                }
            }
            None => {}
        }
    }
    if let Err(message) = writable(out) {
        let help = "pick another --out, or fix the folder's permissions".to_string();
        found.push(Finding { node: None, message, help });
    }
    found
}

/// Whether outputs can be written under `out`: into it if it exists, else into the nearest
/// folder above it that does (a run creates the rest). Nothing is left behind.
fn writable(out: &Path) -> Result<(), String> {
    let mut dir = out;
    while !dir.exists() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p,
            _ => {
                dir = Path::new(".");
                break;
            }
        }
    }
    if !dir.is_dir() {
        return Err(format!("output folder {}: {} is a file, not a folder", out.display(), dir.display()));
    }
    let probe = dir.join(format!(".switchyard-preflight-{}", std::process::id()));
    let written = std::fs::OpenOptions::new().write(true).create_new(true).open(&probe);
    match written {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("output folder {}: cannot write in {}: {e}", out.display(), dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_folder_that_is_a_file_or_read_only_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(writable(&tmp.path().join("new/deeper")), Ok(()), "a folder a run would create");
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = writable(&file.join("out")).unwrap_err();
        assert!(err.contains("is a file, not a folder"), "{err}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing left behind");
    }
}
