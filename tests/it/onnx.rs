//! Local ONNX inference: results match Python onnxruntime, manifests fail clearly, and a
//! missing runtime breaks only the ONNX nodes.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchyard_engine::{Image, NodeContext, ParamValue, PathRoots, Value};
use switchyard_nodes::onnx::{OnnxSettings, manifest};
use switchyard_nodes::{linear_to_srgb, srgb_to_linear};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn registry() -> switchyard_engine::Registry {
    let mut r = switchyard_engine::Registry::new();
    let settings = OnnxSettings { models_dir: root().join("models"), runtime: Default::default() };
    switchyard_nodes::register_builtins(&mut r, settings).unwrap();
    r
}

struct Reference {
    input: (Vec<usize>, Vec<f32>),
    output: (Vec<usize>, Vec<f32>),
}

fn reference(path: &Path) -> Reference {
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let tensor = |t: &serde_json::Value| {
        let shape = t["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let data = t["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        (shape, data)
    };
    Reference { input: tensor(&doc["input"]), output: tensor(&doc["output"]) }
}

/// The reference input (sRGB-encoded NCHW) as an engine image in linear light.
fn image_from_nchw(shape: &[usize], data: &[f32]) -> Image {
    let (h, w) = (shape[2], shape[3]);
    let plane = h * w;
    let px = (0..plane)
        .flat_map(|i| {
            [srgb_to_linear(data[i]), srgb_to_linear(data[plane + i]), srgb_to_linear(data[2 * plane + i]), 1.0]
        })
        .collect();
    Image::new(w as u32, h as u32, px).unwrap()
}

#[test]
fn every_shipped_model_matches_python_onnxruntime_through_the_node() {
    let reg = registry();
    let rt = crate::support::runtime();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("models")).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().unwrap().to_str().unwrap().strip_suffix(".reference.json").map(String::from)
        else {
            continue;
        };
        let m = manifest::load(&root().join("models").join(format!("{name}.toml"))).unwrap();
        let r = reference(&path);
        let is_mask = matches!(m.task, manifest::Task::Mask);
        let node = reg.get(if is_mask { "onnx.mask" } else { "onnx.image" }).unwrap();
        let img = image_from_nchw(&r.input.0, &r.input.1);
        let ctx = NodeContext::standalone(
            "t",
            vec![("image", vec![Value::Image(img)])],
            vec![("model", ParamValue::Text(name.clone().into())), ("tile", ParamValue::Int(0))],
            PathRoots::new(".", "."),
        );
        let out = rt.block_on(node.run(ctx)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (oh, ow) = (r.output.0[2], r.output.0[3]);
        let got: Vec<f32> = match out.get(if is_mask { "mask" } else { "image" }).unwrap() {
            Value::Mask(mk) => {
                assert_eq!((mk.width() as usize, mk.height() as usize), (ow, oh), "{name}");
                mk.values().to_vec()
            }
            Value::Image(im) => {
                assert_eq!((im.width() as usize, im.height() as usize), (ow, oh), "{name}");
                let plane = ow * oh;
                (0..3)
                    .flat_map(|c| (0..plane).map(move |i| (c, i)))
                    .map(|(c, i)| linear_to_srgb(im.pixels()[i * 4 + c]))
                    .collect()
            }
            other => panic!("{name}: unexpected {other:?}"),
        };
        let worst = got.iter().zip(&r.output.1).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{name}: largest difference from Python onnxruntime is {worst}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn every_bad_manifest_names_its_file_and_field() {
    let dir = root().join("tests/fixtures/manifests");
    let expected = [
        ("unknown-field", "(syntax): line 4, column 1: unknown field `license`"),
        ("bad-layout", "tensors.layout: \"CHW\" is not \"NCHW\" or \"NHWC\""),
        ("bad-upscale-scale", "scale: an upscale model needs scale = 2 to 8, got Some(1)"),
        ("wrong-hash", "sha256: the file's hash is"),
        ("missing-model", "sha256: cannot read the model"),
        ("syntax-error", "(syntax): line 21, column"),
        ("mean-std-without-std", "tensors.std: range \"mean_std\" needs mean"),
    ];
    for (name, want) in expected {
        let err = manifest::load(&dir.join(format!("{name}.toml"))).unwrap_err().to_string();
        assert!(err.contains(want), "{name}: {err}");
        assert!(err.contains(name), "{name}: the error names no file: {err}");
    }
}

#[test]
fn a_real_exported_models_manifest_parses() {
    let path = root().join("tests/fixtures/manifests/real/rmbg-1.4.toml");
    let m = manifest::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(m.task, manifest::Task::Mask);
    assert_eq!(m.fixed_size, Some((1024, 1024)));
    assert_eq!(m.range, manifest::ValueRange::MeanStd { mean: [0.5; 3], std: [1.0; 3] });
}

#[test]
fn a_missing_runtime_fails_only_the_onnx_nodes_with_install_advice() {
    let tmp = tempfile::tempdir().unwrap();
    let wf = tmp.path().join("wf.json");
    std::fs::write(
        &wf,
        r#"{ "format": "switchyard.workflow", "version": 1, "nodes": {
            "noise": { "type": "image.noise", "params": { "width": 16, "height": 16 } },
            "up": { "type": "onnx.image", "params": { "model": "upscale2x" }, "inputs": { "image": "noise.image" } },
            "blur": { "type": "image.blur", "inputs": { "image": "noise.image" } } } }"#,
    )
    .unwrap();
    let validate = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("validate")
        .arg(&wf)
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(validate.status.code(), Some(0), "validation needs no runtime");
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["run", "--json", "--no-disk-cache", "--out"])
        .arg(tmp.path().join("out"))
        .arg(&wf)
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .env("SWITCHYARD_MODELS", root().join("models"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = doc["runs"][0]["nodes"].as_array().unwrap();
    let by_id = |id: &str| nodes.iter().find(|n| n["id"] == id).unwrap().clone();
    assert_eq!(by_id("blur")["status"], "executed");
    let up = by_id("up");
    assert_eq!(up["status"], "failed");
    assert!(up["error"].as_str().unwrap().contains("scripts/install-onnxruntime"), "{up}");
}

fn run_model(model: &str, mask: bool, tile: i64, img: &Image) -> Vec<f32> {
    let reg = registry();
    let node = reg.get(if mask { "onnx.mask" } else { "onnx.image" }).unwrap();
    let params = vec![("model", ParamValue::Text(model.into())), ("tile", ParamValue::Int(tile))];
    let ctx = NodeContext::standalone(
        "t",
        vec![("image", vec![Value::Image(img.clone())])],
        params,
        PathRoots::new(".", "."),
    );
    let out = crate::support::runtime().block_on(node.run(ctx)).unwrap();
    match out.get(if mask { "mask" } else { "image" }).unwrap() {
        Value::Image(i) => i.pixels().to_vec(),
        Value::Mask(m) => m.values().to_vec(),
        other => panic!("{other:?}"),
    }
}

fn noise(w: u32, h: u32) -> Image {
    let px = (0..w * h).flat_map(|i| {
        let v = |k: u32| ((i.wrapping_mul(2_654_435_761).wrapping_add(k * 97)) % 1000) as f32 / 1000.0;
        [v(1), v(2), v(3), 1.0]
    });
    Image::new(w, h, px.collect()).unwrap()
}

/// Tiles of 32 px with 8 px overlaps (35 tiles) against one whole-image pass. Tolerance 1e-4
/// per value (linear light, 0..1): these models see 3 px around a pixel, less than the
/// overlap margin that blending ignores, so tiling should change nothing but rounding.
#[test]
fn tiled_inference_matches_untiled_within_tolerance() {
    let img = noise(100, 70);
    for (model, mask) in [("upscale2x", false), ("sobel_edges", true), ("grade_teal_orange", false)] {
        let whole = run_model(model, mask, 4096, &img);
        let tiled = run_model(model, mask, 32, &img);
        assert_eq!(whole.len(), tiled.len(), "{model}");
        let diffs: Vec<f32> = whole.iter().zip(&tiled).map(|(a, b)| (a - b).abs()).collect();
        let worst = diffs.iter().copied().fold(0.0f32, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        eprintln!("{model}: worst {worst:.6}, mean {mean:.7}");
        assert!(worst < 1e-4, "{model}: worst {worst}, mean {mean}");
    }
}

#[test]
fn onnx_templates_run_end_to_end_from_another_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .current_dir(tmp.path())
            .args(["run", "--json", "--no-disk-cache", "--out", "out"])
            .args(args)
            .output()
            .unwrap()
    };
    let upscale = root().join("workflows/local-upscale.json");
    let out = run(&[upscale.to_str().unwrap(), "--set", "draft.width=96", "--set", "draft.height=54"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let img = image::open(tmp.path().join("out/upscaled/draft_2x.png")).unwrap();
    assert_eq!((img.width(), img.height()), (192, 108));
    let frames = root().join("workflows/assets/frames/frame_000[12].png");
    let grade = root().join("workflows/batch-grade.json");
    let out = run(&[grade.to_str().unwrap(), "--batch", frames.to_str().unwrap(), "--bind", "load.path"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    for f in ["frame_0001.png", "frame_0002_edges.png"] {
        assert!(tmp.path().join("out/graded").join(f).is_file(), "{f} missing");
    }
}

#[test]
fn transparency_survives_an_onnx_upscale() {
    let px: Vec<f32> = (0..40 * 30).flat_map(|i| [0.2, 0.4, 0.6, if i % 40 < 20 { 1.0 } else { 0.25 }]).collect();
    let img = Image::new(40, 30, px).unwrap();
    let out = run_model("upscale2x", false, 0, &img);
    assert_eq!(out.len(), 80 * 60 * 4);
    let alpha_at = |x: usize, y: usize| out[(y * 80 + x) * 4 + 3];
    assert!((alpha_at(5, 30) - 1.0).abs() < 1e-5, "left half stays opaque");
    assert!((alpha_at(75, 30) - 0.25).abs() < 1e-5, "right half keeps its alpha");
    let opaque = run_model("upscale2x", false, 0, &noise(40, 30));
    assert!(opaque.chunks_exact(4).all(|p| p[3] == 1.0), "opaque input gives opaque output");
}

/// The settings file comes first: its runtime path is used (here, missing: a clear error
/// naming the file's setting), and its models folder is where manifests are looked for
/// (the run finds `upscale2x` there even though the current folder has no `models/`).
#[test]
fn the_settings_file_names_the_runtime_and_the_models_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("switchyard.toml");
    let models = root().join("models");
    let text = format!("[onnx]\nruntime = \"lib/missing.so\"\nmodels = {:?}\n", models.display().to_string());
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .current_dir(tmp.path())
        .args([
            "run",
            "--json",
            "--no-disk-cache",
            "--out",
            "out",
            "--set",
            "draft.width=32",
            "--set",
            "draft.height=32",
        ])
        .arg(root().join("workflows/local-upscale.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let up = doc["runs"][0]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "upscale").unwrap().clone();
    let err = up["error"].as_str().unwrap();
    assert!(err.contains("lib/missing.so") && err.contains("from the config file"), "{err}");
}
