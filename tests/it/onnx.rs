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
            vec![("model", ParamValue::Text(name.clone().into()))],
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
