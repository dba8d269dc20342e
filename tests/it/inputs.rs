//! Files and batches (issue 13): batch items never share an output, a FIFO never hangs a
//! run, inputs can be confined to allowed folders, and a byte-order mark is no error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows").join(name)
}

fn frame() -> PathBuf {
    template("assets/frames/frame_0001.png")
}

fn run(dir: &Path, args: &[&str]) -> (Output, Value) {
    let out = bin().current_dir(dir).args(["run", "--json", "--no-disk-cache", "--out", "out"]).args(args).output();
    let out = out.unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

/// Regression: `shot.png`, `shot.PNG` and `shot-2.png` once made four outputs from five
/// inputs and exit 0. Every item gets its own name, so every input gets its outputs.
#[test]
fn batch_items_never_overwrite_each_others_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for name in ["shot.png", "shot.PNG", "shot-2.png", "Shot.png", "take.png"] {
        std::fs::copy(frame(), frames.join(name)).unwrap();
    }
    let glob = format!("{}/*", frames.display());
    let wf = template("batch-thumbnails.json");
    let (out, _) = run(dir.path(), &["--batch", &glob, "--bind", "load.path", wf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut thumbs: Vec<String> = std::fs::read_dir(dir.path().join("out/thumbs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase())
        .collect();
    thumbs.sort();
    thumbs.dedup();
    assert_eq!(thumbs.len(), 5, "{thumbs:?}");
}

/// Regression: a FIFO as an input hung the run past `--node-timeout-ms` and the first
/// Ctrl-C, being hashed before the node started. Only regular files are read.
#[cfg(unix)]
#[test]
fn a_fifo_as_an_input_fails_at_once_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("frame.png");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string naming a path in our temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let wf = template("batch-thumbnails.json");
    let set = format!("load.path={}", fifo.display());
    let started = Instant::now();
    let (out, summary) = run(dir.path(), &["--set", &set, "--node-timeout-ms", "2000", wf.to_str().unwrap()]);
    assert!(started.elapsed() < Duration::from_secs(20), "the run ended on its own");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let load = summary["runs"][0]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "load").unwrap().clone();
    assert!(load["error"].as_str().unwrap().contains("not a regular file"), "{load}");
}

/// With `[inputs] confine = true`, an input outside the workflow's folder and the allowed
/// roots is refused at validation (exit 2), naming the path and the setting; inside, it runs.
#[test]
fn confined_inputs_outside_the_allowed_roots_are_refused_at_validation() {
    let dir = tempfile::tempdir().unwrap();
    let (plates, elsewhere) = (dir.path().join("plates"), dir.path().join("elsewhere"));
    for d in [&plates, &elsewhere] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::copy(frame(), d.join("f.png")).unwrap();
    }
    let settings = dir.path().join("switchyard.toml");
    std::fs::write(&settings, "[inputs]\nconfine = true\nroots = [\"plates\"]\n").unwrap();
    let wf = template("batch-thumbnails.json");
    let validate = |input: &Path| {
        let set = format!("load.path={}", input.display());
        bin().arg("--config").arg(&settings).args(["validate", "--json", "--set", &set]).arg(&wf).output().unwrap()
    };
    let refused = validate(&elsewhere.join("f.png"));
    assert_eq!(refused.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&refused.stdout).unwrap();
    let e = &doc["errors"][0];
    assert_eq!(e["code"], "input-outside-roots", "{doc}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("elsewhere/f.png") && message.contains("[inputs] roots"), "{message}");
    assert_eq!(validate(&plates.join("f.png")).status.code(), Some(0), "an allowed root");
    assert_eq!(validate(&frame()).status.code(), Some(0), "the workflow's own folder");
    let mut open = bin();
    open.current_dir(&elsewhere)
        .args(["validate", "--set"])
        .arg(format!("load.path={}", elsewhere.join("f.png").display()));
    assert_eq!(open.arg(&wf).output().unwrap().status.code(), Some(0), "permissive without the setting");
}

/// Regression: a workflow saved with a UTF-8 byte-order mark was refused.
#[test]
fn a_workflow_with_a_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(template("lookdev-draft.json")).unwrap();
    let file = dir.path().join("bom.json");
    std::fs::write(&file, format!("\u{feff}{text}")).unwrap();
    let out = bin().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
