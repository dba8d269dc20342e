//! `switchyard models`: the local ONNX models this machine can run, from their manifests.

use std::path::Path;

use anyhow::Result;
use switchyard_nodes::onnx::manifest::{Manifest, Task, manifests_in};

use super::Exit;

/// Lists the models in `dir`; exit 2 when the folder is unreadable or a manifest is bad.
pub fn list(dir: &Path, json: bool, verify: bool) -> Result<Exit> {
    let found = match manifests_in(dir, verify) {
        Ok(found) => found,
        Err(e) => {
            eprintln!(
                "error: cannot list the models folder {}: {e} (set SWITCHYARD_MODELS or the config's models folder)",
                dir.display()
            );
            return Ok(Exit::Invalid);
        }
    };
    let rows: Vec<serde_json::Value> = found.iter().map(row).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "dir": dir, "models": rows }))?);
    } else {
        print!("{}", table(dir, &found));
    }
    Ok(if found.iter().all(Result::is_ok) { Exit::Ok } else { Exit::Invalid })
}

fn task_text(task: Task) -> String {
    match task {
        Task::ImageToImage => "image-to-image".into(),
        Task::Upscale { factor } => format!("upscale {factor}x"),
        Task::Mask => "mask".into(),
        Task::Tensor => "tensor".into(),
    }
}

fn size_bytes(m: &Manifest) -> Option<u64> {
    std::fs::metadata(&m.model_path).ok().map(|md| md.len())
}

fn size_text(bytes: Option<u64>) -> String {
    match bytes {
        None => "missing".into(),
        Some(b) if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        Some(b) => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
    }
}

fn row(found: &Result<Manifest, switchyard_nodes::onnx::manifest::ManifestError>) -> serde_json::Value {
    match found {
        Ok(m) => serde_json::json!({
            "name": m.name, "task": task_text(m.task), "licence": m.licence, "description": m.description,
            "model": m.model_path, "size_bytes": size_bytes(m), "sha256": m.sha256,
        }),
        Err(e) => serde_json::json!({ "manifest": e.file, "error": e.to_string() }),
    }
}

fn table(dir: &Path, found: &[Result<Manifest, switchyard_nodes::onnx::manifest::ManifestError>]) -> String {
    use std::fmt::Write;
    let mut out = format!("models in {}\n", dir.display());
    if found.is_empty() {
        out.push_str("  none (a model is NAME.onnx with a NAME.toml manifest beside it)\n");
        return out;
    }
    let ok: Vec<&Manifest> = found.iter().filter_map(|f| f.as_ref().ok()).collect();
    let name_w = ok.iter().map(|m| m.name.len()).max().unwrap_or(4).max(4);
    let task_w = ok.iter().map(|m| task_text(m.task).len()).max().unwrap_or(4).max(4);
    let _ = writeln!(out, "  {:<name_w$}  {:<task_w$}  {:>10}  licence / description", "name", "task", "size");
    for m in &ok {
        let size = size_text(size_bytes(m));
        let _ = writeln!(out, "  {:<name_w$}  {:<task_w$}  {size:>10}  {}", m.name, task_text(m.task), m.licence);
        let _ = writeln!(out, "  {:<name_w$}  {:<task_w$}  {:>10}  {}", "", "", "", m.description);
    }
    for e in found.iter().filter_map(|f| f.as_ref().err()) {
        let _ = writeln!(out, "! {e}");
    }
    out
}
