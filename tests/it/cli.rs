//! The `switchyard` binary: exit codes, JSON summaries, `--set`, batches, path safety, Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template(name: &str) -> PathBuf {
    root().join("workflows").join(name)
}

fn run_json(args: &[&str], out: &Path) -> (Output, Value) {
    let output = bin().args(["run", "--json", "--no-disk-cache", "--out"]).arg(out).args(args).output().unwrap();
    let summary = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, summary)
}

#[test]
fn validate_exits_0_for_valid_and_2_for_invalid_with_every_error() {
    let ok = bin().arg("validate").arg(template("lookdev-draft.json")).output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let bad = root().join("tests/fixtures/invalid/bad-params.json");
    let out = bin().args(["validate", "--json"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["errors"].as_array().unwrap().len(), 7);
    let missing = bin().args(["validate", "no/such/file.json"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("unreadable-file"));
}

#[test]
fn run_prints_a_json_summary_and_writes_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, summary) = run_json(&[template("contact-sheet.json").to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["counts"]["executed"], 11);
    let save = summary["runs"][0]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "save").unwrap();
    let file = PathBuf::from(save["files"][0].as_str().unwrap());
    assert!(file.starts_with(tmp.path().canonicalize().unwrap()));
    let img = image::open(&file).unwrap();
    assert_eq!((img.width(), img.height()), (3 * 320 + 4 * 12, 2 * 180 + 3 * 12));
}

#[test]
fn set_overrides_params_and_reports_unknown_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let wf = template("lookdev-draft.json");
    let wf = wf.to_str().unwrap();
    let (out, _) = run_json(
        &[wf, "--set", "clouds.width=64", "--set", "grain.width=64", "--set", "save.path=small.png"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(image::open(tmp.path().join("small.png")).unwrap().width(), 64);
    let (bad, doc) = run_json(&[wf, "--set", "clods.seed=1", "--set", "soft.sigma=-3"], tmp.path());
    assert_eq!(bad.status.code(), Some(2));
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{doc}");
    assert_eq!(errors[0]["help"], "did you mean \"clouds\"?");
    assert!(errors[1]["message"].as_str().unwrap().contains("-3 is out of range"), "{doc}");
}

#[test]
fn a_failed_run_exits_1_and_reports_the_failing_node() {
    let tmp = tempfile::tempdir().unwrap();
    let wf = tmp.path().join("wf.json");
    std::fs::write(
        &wf,
        r#"{ "format": "switchyard.workflow", "version": 1, "nodes": {
            "load": { "type": "image.load", "params": { "path": "missing.png" } },
            "noise": { "type": "image.noise", "params": { "width": 8, "height": 8 } },
            "save": { "type": "image.save", "params": { "path": "ok.png" }, "inputs": { "image": "noise.image" } },
            "save2": { "type": "image.save", "params": { "path": "never.png" }, "inputs": { "image": "load.image" } } } }"#,
    )
    .unwrap();
    let (out, summary) = run_json(&[wf.to_str().unwrap()], &tmp.path().join("out"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(summary["status"], "failed");
    let nodes = summary["runs"][0]["nodes"].as_array().unwrap();
    let by_id = |id: &str| nodes.iter().find(|n| n["id"] == id).unwrap().clone();
    assert_eq!(by_id("load")["status"], "failed");
    assert!(by_id("load")["error"].as_str().unwrap().contains("missing.png"));
    assert_eq!(by_id("save2")["status"], "skipped");
    assert_eq!(by_id("save")["status"], "executed");
}

#[test]
fn batch_runs_once_per_file_with_outputs_named_per_item() {
    let tmp = tempfile::tempdir().unwrap();
    let pattern = root().join("workflows/assets/frames/*.png");
    let (out, summary) = run_json(
        &[
            template("batch-thumbnails.json").to_str().unwrap(),
            "--batch",
            pattern.to_str().unwrap(),
            "--bind",
            "load.path",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary["runs"].as_array().unwrap().len(), 4);
    for n in 1..=4 {
        let thumb = image::open(tmp.path().join(format!("thumbs/frame_000{n}.jpg"))).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (256, 144));
        assert_eq!(image::open(tmp.path().join(format!("proxies/frame_000{n}.png"))).unwrap().height(), 720);
    }
    let (none, _) = run_json(
        &[template("batch-thumbnails.json").to_str().unwrap(), "--batch", "/nonexistent/*.png", "--bind", "load.path"],
        tmp.path(),
    );
    assert_eq!(none.status.code(), Some(2));
}

#[test]
#[cfg(unix)]
fn an_output_through_a_symlink_is_refused_and_nothing_is_written_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let (out_dir, outside) = (tmp.path().join("out"), tmp.path().join("outside"));
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, out_dir.join("link")).unwrap();
    let wf = template("lookdev-draft.json");
    let (out, summary) = run_json(
        &[wf.to_str().unwrap(), "--set", "save.path=link/x.png", "--set", "clouds.width=16", "--set", "grain.width=16"],
        &out_dir,
    );
    assert_eq!(out.status.code(), Some(1));
    let save = summary["runs"][0]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "save").unwrap().clone();
    assert!(save["error"].as_str().unwrap().contains("symlink"), "{save}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn events_json_prints_one_event_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["run", "--events-json", "--no-disk-cache", "--out"])
        .arg(tmp.path())
        .arg(template("lookdev-draft.json"))
        .args(["--set", "clouds.width=32", "--set", "grain.width=32"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!((count("queued"), count("started"), count("finished")), (6, 6, 6));
    let (first, last) = (&events[0], &events[events.len() - 1]);
    assert_eq!((&first["event"], &first["nodes"]), (&Value::from("run_started"), &Value::from(6)), "{first}");
    assert_eq!((&last["event"], &last["status"]), (&Value::from("run_finished"), &Value::from("succeeded")), "{last}");
    let run_id = &first["run_id"];
    assert!(run_id.as_str().is_some_and(|id| id.starts_with("run-")), "{first}");
    let mut ts = 0;
    for e in &events {
        assert_eq!(&e["run_id"], run_id, "one run id on every line: {e}");
        let t = e["ts_ms"].as_u64().unwrap();
        assert!(t >= ts, "times never go back: {e}");
        ts = t;
    }
    let save = events.iter().find(|e| e["node"] == "save" && e["event"] == "finished").unwrap();
    let file = save["files"][0].as_str().unwrap();
    assert!(file.ends_with("lookdev/draft.png") && Path::new(file).exists(), "{save}");
}

#[test]
#[cfg(unix)]
fn ctrl_c_cancels_the_run_and_exits_130() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["run", "--events-json", "--no-disk-cache", "--out"])
        .arg(tmp.path())
        .arg(template("lookdev-draft.json"))
        .args(["--set", "clouds.width=8000", "--set", "clouds.height=4000", "--set", "clouds.octaves=8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait until the big noise node has started, then interrupt.
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("\"clouds\"") && line.contains("started") {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(rest.iter().any(|l| l.contains("\"clouds\"") && l.contains("cancelled")), "{rest:?}");
    assert!(!tmp.path().join("lookdev/draft.png").exists());
}

#[test]
fn schema_command_matches_the_committed_schemas() {
    for (args, file) in [(&["schema"][..], "workflow"), (&["schema", "--catalog"][..], "catalog")] {
        let out = bin().args(args).output().unwrap();
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        let path = root().join(format!("schema/{file}.schema.json"));
        let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(printed, committed, "run `switchyard {} > schema/{file}.schema.json` and commit it", args.join(" "));
    }
}

#[test]
fn nodes_json_lists_every_builtin_with_ports_and_params() {
    let out = bin().args(["nodes", "--json"]).output().unwrap();
    let nodes: Value = serde_json::from_slice(&out.stdout).unwrap();
    let types: Vec<&str> = nodes.as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
    for t in [
        "image.load",
        "image.save",
        "image.noise",
        "image.resize",
        "image.crop",
        "image.blur",
        "image.adjust",
        "image.blend",
        "image.composite",
        "image.grid",
        "text.prompt",
        "value.int",
        "value.float",
    ] {
        assert!(types.contains(&t), "{t} missing");
    }
    let blur = nodes.as_array().unwrap().iter().find(|n| n["type"] == "image.blur").unwrap();
    assert_eq!(blur["params"][0]["name"], "sigma");
    assert_eq!(blur["params"][0]["type"], "float");
    assert_eq!(blur["inputs"][0]["type"], "image");
}

#[test]
fn doctor_reports_cpu_memory_adapters_and_the_onnx_runtime() {
    let out =
        bin().args(["doctor", "--json"]).env_remove("XDG_RUNTIME_DIR").env_remove("WAYLAND_DISPLAY").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "no Mesa noise without a runtime dir: {stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let local = &doc["local"];
    assert!(local["cpu_threads"].as_u64().unwrap() >= 1);
    assert!(local["memory_total_bytes"].as_u64().unwrap() > local["memory_available_bytes"].as_u64().unwrap() / 2);
    for a in local["adapters"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap().to_lowercase();
        if name.contains("llvmpipe") || name.contains("lavapipe") {
            assert_eq!(a["device_type"], "cpu", "a software rasteriser is not a GPU: {a}");
        }
    }
    let gpus = local["adapters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["device_type"] == "discrete_gpu" || a["device_type"] == "integrated_gpu")
        .count();
    assert_eq!(doc["local_gpu"], gpus > 0);
    assert_eq!(local["onnx"]["version"], "1.31.1");
    assert!(local["onnx"]["providers"].as_array().unwrap().iter().any(|p| p == "CPUExecutionProvider"));
    assert!(local["cache_free_bytes"].as_u64().is_some());
}

/// `switchyard nodes | head -2` and `schema | head -2`: the reader closes the pipe early.
#[test]
fn a_closed_pipe_ends_printing_commands_quietly() {
    for args in [&["nodes"][..], &["schema"], &["nodes", "--json"]] {
        let mut child = bin().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take()); // the reader is gone before the first line
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{args:?}: {:?}", out.status);
    }
}

/// `switchyard models` lists each local model with its task, licence and size, and names a
/// manifest that does not check out (exit 2) without hiding the good ones.
#[test]
fn models_lists_local_models_and_names_bad_manifests() {
    let out =
        bin().args(["models", "--json", "--verify"]).env("SWITCHYARD_MODELS", root().join("models")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chroma_key", "grade_teal_orange", "sobel_edges", "upscale2x"]);
    let upscale = &doc["models"][3];
    assert_eq!((&upscale["task"], upscale["size_bytes"].as_u64().unwrap() > 0), (&Value::from("upscale 2x"), true));
    assert!(upscale["licence"].as_str().unwrap().starts_with("Apache-2.0"), "{upscale}");
    let tmp = tempfile::tempdir().unwrap();
    for f in ["upscale2x.toml", "upscale2x.onnx"] {
        std::fs::copy(root().join("models").join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(tmp.path().join("broken.toml"), "name = \"broken\"\ntask = 3\n").unwrap();
    let out = bin().arg("models").env("SWITCHYARD_MODELS", tmp.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("upscale2x") && text.contains("upscale 2x"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("! ") && l.contains("broken.toml")), "{text}");
}

/// `validate --preflight` finds what would stop a run beyond the file: a provider key the
/// placement needs, and an output folder that cannot be written; a ready graph lists its
/// placements and exits 0.
#[test]
fn preflight_names_missing_keys_and_unwritable_output_folders() {
    let keys = ["BFL_API_KEY", "RUNWAYML_API_SECRET", "RECRAFT_API_TOKEN"];
    let wf = template("cloud-shot.json");
    let mut bare = bin();
    bare.args(["validate", "--preflight", "--json"]).arg(&wf);
    for k in keys {
        bare.env_remove(k);
    }
    let out = bare.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes: Vec<&str> = doc["problems"].as_array().unwrap().iter().map(|p| p["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, ["key", "clip", "cutout"], "{doc}");
    assert!(doc["problems"][0]["help"].as_str().unwrap().starts_with("set BFL_API_KEY"), "{doc}");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let keyed = |out: &Path| {
        let mut cmd = bin();
        cmd.args(["validate", "--preflight", "--out"]).arg(out).arg(&wf);
        for k in keys {
            cmd.env(k, "test-key");
        }
        cmd.output().unwrap()
    };
    let blocked = keyed(&file.join("renders"));
    let err = String::from_utf8_lossy(&blocked.stderr);
    assert_eq!(blocked.status.code(), Some(2), "{err}");
    assert!(err.contains("is a file, not a folder"), "{err}");
    let ready = keyed(&tmp.path().join("renders"));
    let text = String::from_utf8_lossy(&ready.stdout);
    assert_eq!(ready.status.code(), Some(0), "{}", String::from_utf8_lossy(&ready.stderr));
    assert!(text.contains("ready to run under cheapest") && text.contains("clip: runway:"), "{text}");
    assert!(!tmp.path().join("renders").exists(), "a pre-flight creates nothing");
}

/// A workflow's `run` section gives `quote` and `run` their defaults (policy, budget); a flag
/// given on the command line wins.
#[test]
fn run_settings_in_the_file_are_defaults_the_command_line_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(template("cloud-shot.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["run"] = serde_json::json!({ "policy": "greenest", "budget": 10 });
    let wf = tmp.path().join("shot.json");
    std::fs::write(&wf, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let quote = |extra: &[&str]| {
        let out =
            bin().args(["quote", "--json", "--at", "2025-11-19T12:00:00Z"]).arg(&wf).args(extra).output().unwrap();
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap_or_default())
    };
    let (code, from_file) = quote(&[]);
    assert_eq!(
        (code, &from_file["policy"], &from_file["budget"]),
        (Some(3), &Value::from("greenest"), &Value::from(10))
    );
    let (code, flags) = quote(&["--policy", "cheapest", "--budget", "1000"]);
    assert_eq!((code, &flags["policy"], &flags["budget"]), (Some(0), &Value::from("cheapest"), &Value::from(1000)));
    let bad = tmp.path().join("bad.json");
    doc["run"] = serde_json::json!({ "policy": "greenest", "budjet": 10 });
    std::fs::write(&bad, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = bin().arg("validate").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("malformed-run-settings") && err.contains("budjet"), "{err}");
}

/// A saved PNG carries the workflow and the run's overrides: `run IMAGE.png` makes the same
/// image again, and `validate` reads it; a PNG without one is refused, naming why.
#[test]
fn a_saved_png_carries_its_workflow_and_runs_again_from_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let wf = template("lookdev-draft.json");
    let small = [
        "--set",
        "clouds.width=64",
        "--set",
        "clouds.height=36",
        "--set",
        "grain.width=64",
        "--set",
        "grain.height=36",
    ];
    let first = tmp.path().join("first");
    let (out, _) = run_json(
        &[wf.to_str().unwrap(), "--set", "clouds.seed=42"].iter().copied().chain(small).collect::<Vec<_>>(),
        &first,
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let image = first.join("lookdev/draft.png");
    let again = tmp.path().join("again");
    let (out, _) = run_json(&[image.to_str().unwrap()], &again);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (std::fs::read(&image).unwrap(), std::fs::read(again.join("lookdev/draft.png")).unwrap());
    assert!(a == b, "the image's own workflow, overrides included, makes the same image");
    let plain = tmp.path().join("plain");
    let (out, _) = run_json(&[wf.to_str().unwrap()].iter().copied().chain(small).collect::<Vec<_>>(), &plain);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read(plain.join("lookdev/draft.png")).unwrap() != a, "the seed override was carried");
    let ok = bin().arg("validate").arg(&image).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let bare = bin().arg("validate").arg(root().join("workflows/assets/frames/frame_0001.png")).output().unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("carries no Switchyard workflow"));
}

/// As in ComfyUI, a run keeps only what leads to an output: a node that feeds no save is
/// pruned and named; `--only` runs one node and what it needs; `--all-nodes` runs them all.
#[test]
fn a_run_prunes_nodes_that_lead_to_no_output_and_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("editor/tests/fixtures/small-local.json")).unwrap().replace(
        r#""save":"#,
        r#""stray": { "type": "image.invert", "inputs": { "image": "noise.image" } },
    "save":"#,
    );
    let file = tmp.path().join("stray.json");
    std::fs::write(&file, text).unwrap();
    let ids = |summary: &Value| -> Vec<String> {
        let nodes = summary["runs"][0]["nodes"].as_array().cloned().unwrap_or_default();
        nodes.iter().map(|n| n["id"].as_str().unwrap_or_default().to_string()).collect()
    };
    let (out, summary) = run_json(&[file.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ids(&summary), ["noise", "soft", "save"]);
    assert_eq!(summary["pruned"], serde_json::json!(["stray"]));
    let (_, summary) = run_json(&["--all-nodes", file.to_str().unwrap()], tmp.path());
    assert_eq!(ids(&summary).len(), 4, "--all-nodes runs the stray node too");
    assert_eq!(summary.get("pruned"), None);
    let (_, summary) = run_json(&["--only", "soft", file.to_str().unwrap()], tmp.path());
    assert_eq!(ids(&summary), ["noise", "soft"], "--only runs a node and what it needs, not the save");
    let (out, _) = run_json(&["--only", "sfot", file.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"--only "sfot": no such node; did you mean "soft"?"#), "{err}");
    let text = bin().args(["run", "--no-disk-cache", "--out"]).arg(tmp.path()).arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&text.stderr);
    assert!(err.contains("pruned 1 node(s) that lead to no output: stray (--all-nodes runs them)"), "{err}");
}
