//! `switchyard import comfy` and `export comfy` as a user runs them: a ComfyUI API-format
//! prompt becomes a workflow that runs; a prompt with nodes Switchyard lacks is refused
//! (exit 2) naming each one; an exported workflow imports back and runs the same.

use std::process::Command;

use serde_json::json;

fn switchyard(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.current_dir(dir);
    cmd
}

#[test]
fn a_comfy_prompt_imports_runs_and_exports_back() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = json!({
        "1": { "class_type": "EmptyImage", "inputs": { "width": 64, "height": 48, "batch_size": 1, "color": 16711680 } },
        "2": { "class_type": "ImageInvert", "inputs": { "image": ["1", 0] } },
        "3": { "class_type": "ImageScaleBy", "inputs": { "image": ["2", 0], "upscale_method": "bilinear", "scale_by": 0.5 } },
        "4": { "class_type": "SaveImage", "inputs": { "images": ["3", 0], "filename_prefix": "inverted" } }
    });
    std::fs::write(dir.path().join("api.json"), prompt.to_string()).unwrap();
    let imported = switchyard(dir.path()).args(["import", "comfy", "api.json", "-o", "wf.json"]).output().unwrap();
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let ran = switchyard(dir.path()).args(["run", "--json", "--out", "out", "wf.json"]).output().unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let png = image::open(dir.path().join("out/inverted_0001.png")).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (32, 24));
    assert_eq!(png.get_pixel(5, 5).0, [0, 255, 255], "red, inverted: cyan");

    let exported = switchyard(dir.path()).args(["export", "comfy", "wf.json"]).output().unwrap();
    assert!(exported.status.success());
    let back: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    assert_eq!(back["1"]["inputs"]["batch_size"], 1, "inputs ComfyUI requires are filled: {back}");
    assert_eq!(back["3"], prompt["3"], "{back}");
    assert_eq!(back["4"], prompt["4"], "{back}");
}

#[test]
fn a_comfy_prompt_with_nodes_switchyard_lacks_is_refused_naming_each() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            json!({ "3": { "class_type": "KSampler", "inputs": {} }, "7": { "class_type": "Mystery", "inputs": {} } }),
            vec!["node 3: KSampler (nearest Switchyard node: cloud.text_to_image)", "node 7: Mystery"],
        ),
        (
            json!({ "1": { "class_type": "ImageScale", "inputs": { "image": ["9", 0], "upscale_method": "area",
            "width": 8, "height": 8, "crop": "disabled" } } }),
            vec!["node 1 (ImageScale): links to node 9"],
        ),
        (json!([1, 2]), vec!["not a ComfyUI API-format prompt"]),
    ];
    for (prompt, says) in cases {
        std::fs::write(dir.path().join("bad.json"), prompt.to_string()).unwrap();
        let out = switchyard(dir.path()).args(["import", "comfy", "bad.json"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        for s in says {
            assert!(err.contains(s), "{s:?} in {err}");
        }
        assert!(out.stdout.is_empty(), "nothing written");
    }
}
