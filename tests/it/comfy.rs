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

/// ComfyUI's official templates (fetched by `scripts/setup`): each imports, or fails naming
/// exactly the node types it uses that Switchyard has no equivalent for, or (every type
/// mapped) names the node and the value Switchyard cannot honour. Each that imports runs
/// against the mock providers. Prints the coverage and the node types that would unlock the
/// most templates.
#[test]
fn every_comfy_template_imports_or_names_its_missing_node_types() {
    use std::collections::{BTreeMap, BTreeSet};
    use switchyard_session::comfy::{ImportError, import_text, mapping};

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("third_party/comfy-templates/comfyui_workflow_templates_json/templates");
    assert!(dir.is_dir(), "no {}; run `bash scripts/setup`, which fetches them", dir.display());
    let registry = switchyard_nodes::registry_from(&switchyard_nodes::config::Config::default());
    let mapping = mapping().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut templates, mut imported, mut refused) = (0, Vec::new(), Vec::new());
    let mut missing_in: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(file).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if !value.get("nodes").is_some_and(serde_json::Value::is_array) {
            continue; // an index, not a workflow
        }
        templates += 1;
        let want = missing_types(&value, mapping, &registry);
        match import_text(&text, "t", &registry) {
            Ok(_) => {
                assert!(want.is_empty(), "{}: imported although it uses {want:?}", file.display());
                imported.push(file.clone());
            }
            Err(ImportError::Unmapped(nodes)) => {
                let got: BTreeSet<String> = nodes.iter().map(|n| n.class_type.clone()).collect();
                assert_eq!(got, want, "{}: the missing node types", file.display());
                for t in &want {
                    let entry = missing_in.entry(t.clone()).or_default();
                    entry.0 += 1;
                    entry.1 += usize::from(want.len() == 1);
                }
            }
            Err(ImportError::Invalid(problems)) if want.is_empty() => {
                let p = &problems[0];
                assert!(!p.id.is_empty() && !p.class_type.is_empty() && !p.message.is_empty(), "{problems:?}");
                refused.push(format!(
                    "{}: {} ({}): {}",
                    file.file_name().unwrap().display(),
                    p.id,
                    p.class_type,
                    p.message
                ));
            }
            Err(e) => assert!(!want.is_empty(), "{}: every type is mapped, yet: {e}", file.display()),
        }
    }
    let farm = crate::spend::Farm::new();
    for file in &imported {
        run_against_mocks(&farm, file);
    }
    let mut top: Vec<_> = missing_in.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse((t.1.1, t.1.0)));
    eprintln!("{} of {templates} ComfyUI templates import, validate and run against the mocks", imported.len());
    for file in &imported {
        eprintln!("  runs: {}", file.file_name().unwrap().display());
    }
    eprintln!("{} have every node type mapped but a value Switchyard cannot honour:", refused.len());
    for r in &refused {
        eprintln!("  {r}");
    }
    for (t, (n, alone)) in top.iter().take(10) {
        eprintln!("  {t}: missing in {n} templates, the only one missing in {alone}");
    }
    assert!(templates >= 600, "the template set is whole: {templates}");
}

/// Imports a template with the CLI, gives its `LoadImage`s a picture each, and runs it
/// against the mock providers.
fn run_against_mocks(farm: &crate::spend::Farm, file: &std::path::Path) -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("workflow.json");
    let imported = farm.cmd().args(["import", "comfy"]).arg(file).arg("-o").arg(&out).output().unwrap();
    assert!(imported.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&imported.stderr));
    let workflow: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for node in workflow["nodes"].as_object().unwrap().values().filter(|n| n["type"] == "image.load") {
        let path = work.path().join(node["params"]["path"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(64, 64, image::Rgb([90, 140, 200])).save(&path).unwrap();
    }
    let run = farm.cmd().args(["run", "--json", "--out"]).arg(work.path().join("out")).arg(&out).output().unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{} runs: {report}\n{}", file.display(), String::from_utf8_lossy(&run.stderr));
    work
}

/// The node types a UI-format workflow runs (muted, bypassed, notes, reroutes and
/// primitives aside, subgraphs looked into) that neither the mapping nor Switchyard has.
fn missing_types(
    value: &serde_json::Value,
    mapping: &switchyard_session::comfy::Mapping,
    registry: &switchyard_engine::Registry,
) -> std::collections::BTreeSet<String> {
    let subgraphs: Vec<&serde_json::Value> =
        value["definitions"]["subgraphs"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let ids: std::collections::BTreeSet<&str> = subgraphs.iter().filter_map(|s| s["id"].as_str()).collect();
    let ui_only = ["Note", "MarkdownNote", "Reroute", "PrimitiveNode"];
    let by_id: std::collections::BTreeMap<&str, &serde_json::Value> =
        subgraphs.iter().filter_map(|s| Some((s["id"].as_str()?, *s))).collect();
    let mut missing = std::collections::BTreeSet::new();
    // Levels to scan: the top, then each subgraph an active node instantiates (once).
    let mut todo = vec![&value["nodes"]];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(nodes) = todo.pop() {
        for n in nodes.as_array().into_iter().flatten() {
            let t = n["type"].as_str().unwrap_or_default();
            let mode = n["mode"].as_i64().unwrap_or(0);
            if mode == 2 || mode == 4 || ui_only.contains(&t) {
                continue;
            }
            if ids.contains(t) {
                if seen.insert(t) {
                    todo.push(&by_id[t]["nodes"]);
                }
            } else if !mapping.node.contains_key(t) && registry.get(t).is_none() {
                missing.insert(t.to_string());
            }
        }
    }
    missing
}

/// ComfyUI's Stability, BFL, ElevenLabs, Ideogram, Luma, Runway and Kling nodes, imported,
/// run against the mock providers: an aspect ratio goes out as the provider's own, the
/// upscale as Stability's fast upscaler, Flux.2 makes and (with an image linked) edits,
/// speech takes the selected voice's id, and each SaveVideo names its video node's file.
#[test]
fn partner_comfyui_nodes_run_against_the_mocks() {
    let farm = crate::spend::Farm::new();
    let prompt = serde_json::json!({
        "1": { "class_type": "StabilityStableImageUltraNode", "inputs": { "prompt": "dunes at dawn",
            "aspect_ratio": "16:9", "style_preset": "None", "seed": 42 } },
        "2": { "class_type": "SaveImage", "inputs": { "images": ["1", 0], "filename_prefix": "dunes" } },
        "3": { "class_type": "EmptyImage", "inputs": { "width": 64, "height": 64, "batch_size": 1, "color": 0 } },
        "4": { "class_type": "StabilityUpscaleFastNode", "inputs": { "image": ["3", 0] } },
        "5": { "class_type": "SaveImage", "inputs": { "images": ["4", 0], "filename_prefix": "up" } },
        "6": { "class_type": "Flux2ImageNode", "inputs": { "prompt": "a fjord", "model": "Flux.2 [pro]",
            "model.width": 1024, "model.height": 576, "seed": 3 } },
        "7": { "class_type": "Flux2ImageNode", "inputs": { "prompt": "at night", "model": "Flux.2 [max]",
            "model.width": 1024, "model.height": 1024, "seed": 4, "model.images.image_1": ["3", 0] } },
        "8": { "class_type": "SaveImage", "inputs": { "images": ["6", 0], "filename_prefix": "fjord" } },
        "9": { "class_type": "SaveImage", "inputs": { "images": ["7", 0], "filename_prefix": "night" } },
        "10": { "class_type": "ElevenLabsVoiceSelector", "inputs": { "voice": "Sarah (female, american)" } },
        "11": { "class_type": "ElevenLabsTextToSpeech", "inputs": { "voice": ["10", 0], "text": "Dunes at dawn.",
            "stability": 0.5, "apply_text_normalization": "auto", "model": "eleven_multilingual_v2", "seed": 1,
            "output_format": "mp3_44100_192" } },
        "12": { "class_type": "SaveAudio", "inputs": { "audio": ["11", 0], "filename_prefix": "line" } },
        "13": { "class_type": "IdeogramV3", "inputs": { "prompt": "a poster", "aspect_ratio": "16:9",
            "resolution": "Auto", "magic_prompt_option": "AUTO", "seed": 7, "num_images": 1,
            "rendering_speed": "TURBO" } },
        "14": { "class_type": "SaveImage", "inputs": { "images": ["13", 0], "filename_prefix": "poster" } },
        "15": { "class_type": "LumaImageNode", "inputs": { "prompt": "chrome crown", "model": "photon-flash-1",
            "aspect_ratio": "3:4", "seed": 9, "style_image_weight": 1.0 } },
        "16": { "class_type": "SaveImage", "inputs": { "images": ["15", 0], "filename_prefix": "crown" } },
        "17": { "class_type": "RunwayImageToVideoNodeGen4", "inputs": { "start_frame": ["3", 0],
            "prompt": "the camera pushes in", "duration": 5, "ratio": "1280:720", "seed": 5 } },
        "18": { "class_type": "SaveVideo", "inputs": { "video": ["17", 0], "filename_prefix": "video/push",
            "format": "auto", "codec": "auto" } },
        "19": { "class_type": "KlingImage2VideoNode", "inputs": { "start_frame": ["3", 0], "prompt": "waves",
            "negative_prompt": "blur", "model_name": "kling-v1-6", "cfg_scale": 0.8, "mode": "std",
            "aspect_ratio": "16:9", "duration": "5" } },
        "20": { "class_type": "SaveVideo", "inputs": { "video": ["19", 0], "filename_prefix": "waves",
            "format": "mp4", "codec": "h264" } }
    });
    let file = farm.dir.path().join("partners_api.json");
    std::fs::write(&file, prompt.to_string()).unwrap();
    let work = run_against_mocks(&farm, &file);
    let out = work.path().join("out");
    for video in ["video/push_0001.mp4", "waves_0001.mp4"] {
        let bytes = std::fs::read(out.join(video)).unwrap_or_else(|e| panic!("{video}: {e}"));
        assert_eq!(&bytes[4..8], b"ftyp", "{video} is an MP4 file");
    }
}
