//! ComfyUI prompts in the API format, imported through the shipped mapping and validated as
//! Switchyard workflows; every node with no equivalent is named; exports import back.

use serde_json::{Value, json};
use switchyard_comfy::{ImportError, Mapping, export_api, import_api, parse_api};
use switchyard_engine::Registry;

fn registry() -> Registry {
    switchyard_nodes::registry_from(&switchyard_nodes::config::Config::default())
}

fn import(prompt: Value) -> Result<switchyard_comfy::Imported, ImportError> {
    let prompt = parse_api(&prompt.to_string()).expect("an API prompt");
    import_api(&prompt, &Mapping::builtin().expect("the mapping"), &registry(), "test")
}

fn nodes(imported: &switchyard_comfy::Imported) -> Value {
    serde_json::to_value(&imported.workflow.nodes).unwrap()
}

#[test]
fn the_shipped_mapping_names_only_real_node_types_params_and_ports() {
    let mapping = Mapping::builtin().unwrap();
    let registry = registry();
    for (class, m) in &mapping.node {
        let spec = registry.get(&m.type_name).unwrap_or_else(|| panic!("{class}: no node type {}", m.type_name)).spec();
        for param in m.params.values().chain(m.set.keys()).chain(m.size.values().flatten()) {
            let is_input = spec.inputs.iter().any(|i| i.name == param);
            assert!(
                spec.param_spec(param).is_some() || is_input || m.constant.is_some(),
                "{class}: {} has no {param}",
                m.type_name
            );
        }
        let types: Vec<&str> =
            std::iter::once(m.type_name.as_str()).chain(m.when_linked.values().map(String::as_str)).collect();
        for port in m.inputs.values() {
            let has = |t: &&str| registry.get(t).is_some_and(|n| n.spec().inputs.iter().any(|i| i.name == port));
            assert!(types.iter().any(has), "{class}: none of {types:?} has an input {port}");
        }
        for port in m.outputs.iter().filter(|p| !m.derive.contains_key(*p) && m.constant.is_none()) {
            assert!(spec.outputs.iter().any(|o| o.name == port), "{class}: {} has no output {port}", m.type_name);
        }
        for t in m.when_linked.values() {
            assert!(registry.get(t).is_some(), "{class}: no node type {t}");
        }
    }
    for t in mapping.nearest.values() {
        assert!(registry.get(t).is_some(), "nearest: no node type {t}");
    }
}

/// ComfyUI's basic image chain: load, scale, blur, save.
fn image_chain() -> Value {
    json!({
        "1": { "class_type": "LoadImage", "inputs": { "image": "frame.png", "upload": "image" } },
        "2": { "class_type": "ImageScale", "inputs": { "image": ["1", 0], "upscale_method": "bicubic",
            "width": 640, "height": 360, "crop": "disabled" } },
        "3": { "class_type": "ImageBlur", "inputs": { "image": ["2", 0], "blur_radius": 3, "sigma": 1.5 } },
        "4": { "class_type": "ImageCompositeMasked", "inputs": { "destination": ["3", 0], "source": ["2", 0],
            "x": 0, "y": 0, "resize_source": false, "mask": ["1", 1] } },
        "5": { "class_type": "SaveImage", "inputs": { "images": ["4", 0], "filename_prefix": "out/shot" } },
        "6": { "class_type": "PreviewImage", "inputs": { "images": ["3", 0] } }
    })
}

#[test]
fn an_api_prompt_becomes_the_same_graph_in_switchyard_nodes() {
    let imported = import(image_chain()).unwrap();
    let want = json!({
        "1": { "type": "image.load", "params": { "path": "frame.png" } },
        "2": { "type": "image.resize", "params": { "filter": "bicubic", "width": 640, "height": 360 },
            "inputs": { "image": "1.image" } },
        "3": { "type": "image.blur", "params": { "sigma": 1.5 }, "inputs": { "image": "2.image" } },
        "4": { "type": "image.composite", "inputs": { "base": "3.image", "top": "2.image", "mask": "1_mask.mask" } },
        "5": { "type": "image.save", "params": { "path": "out/shot_{n}.png" }, "inputs": { "image": "4.image" } },
        "6": { "type": "image.save", "params": { "path": "preview/preview_{n}.png" }, "inputs": { "image": "3.image" } },
        "1_mask": { "type": "mask.from_image", "params": { "channel": "alpha", "invert": true },
            "inputs": { "image": "1.image" } }
    });
    assert_eq!(nodes(&imported), want);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    let text = serde_json::to_string(&imported.workflow).unwrap();
    let parsed = switchyard_engine::format::parse_workflow(&text);
    assert!(parsed.diagnostics.0.is_empty(), "the import is a valid workflow file: {:?}", parsed.diagnostics);
}

#[test]
fn every_node_with_no_equivalent_is_named_with_the_nearest_switchyard_node() {
    let prompt = json!({
        "3": { "class_type": "KSampler", "inputs": { "seed": 5, "model": ["4", 0] } },
        "4": { "class_type": "CheckpointLoaderSimple", "inputs": { "ckpt_name": "sd15.safetensors" } },
        "9": { "class_type": "SaveImage", "inputs": { "images": ["3", 0], "filename_prefix": "x" } },
        "12": { "class_type": "SomeCustomNode", "inputs": {} }
    });
    let Err(ImportError::Unmapped(missing)) = import(prompt) else { panic!("refused") };
    let got: Vec<(&str, &str, Option<&str>)> =
        missing.iter().map(|u| (u.id.as_str(), u.class_type.as_str(), u.nearest.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("3", "KSampler", Some("cloud.text_to_image")),
            ("4", "CheckpointLoaderSimple", Some("cloud.text_to_image")),
            ("12", "SomeCustomNode", None)
        ]
    );
}

#[test]
fn values_switchyard_cannot_honour_are_refused_on_their_node() {
    let cases = [
        (
            json!({ "1": { "class_type": "ImageScale", "inputs": { "image": ["2", 0], "upscale_method": "bicubic",
            "width": 8, "height": 8, "crop": "center" } }, "2": { "class_type": "EmptyImage", "inputs": { "width": 8,
            "height": 8, "batch_size": 1, "color": 0 } } }),
            "1",
            "crop = \"center\" is not supported",
        ),
        (
            json!({ "1": { "class_type": "EmptyImage", "inputs": { "width": 8, "height": 8, "batch_size": 4, "color": 0 } } }),
            "1",
            "batch_size = 4",
        ),
        (
            json!({ "1": { "class_type": "ImageBlend", "inputs": { "image1": ["2", 0], "image2": ["2", 0],
            "blend_factor": 0.5, "blend_mode": "difference" } }, "2": { "class_type": "EmptyImage", "inputs": { "width": 8,
            "height": 8, "batch_size": 1, "color": 0 } } }),
            "1",
            "blend_mode = \"difference\" is not offered",
        ),
        (json!({ "1": { "class_type": "ImageInvert", "inputs": { "image": ["7", 0] } } }), "1", "not in the prompt"),
        (
            json!({ "1": { "class_type": "ImageInvert", "inputs": { "image": ["2", 3] } }, "2": { "class_type": "EmptyImage",
            "inputs": { "width": 8, "height": 8, "batch_size": 1, "color": 0 } } }),
            "1",
            "output 3",
        ),
    ];
    for (prompt, id, says) in cases {
        let Err(ImportError::Invalid(problems)) = import(prompt.clone()) else { panic!("{prompt} refused") };
        assert_eq!(problems[0].id, id, "{problems:?}");
        assert!(problems[0].message.contains(says), "{says}: {problems:?}");
    }
}

#[test]
fn a_partner_node_becomes_a_cloud_node_pinned_to_its_provider() {
    let prompt = json!({
        "1": { "class_type": "OpenAIGPTImage1", "inputs": { "prompt": "a red fox", "seed": 7, "quality": "high",
            "background": "auto", "size": "1536x1024", "n": 1, "model": "gpt-image-1" } },
        "2": { "class_type": "RecraftRemoveBackgroundNode", "inputs": { "image": ["1", 0] } },
        "3": { "class_type": "OpenAIGPTImage1", "inputs": { "prompt": "snow", "image": ["2", 0], "size": "1024x1024",
            "model": "gpt-image-1" } },
        "4": { "class_type": "SaveImage", "inputs": { "images": ["3", 0], "filename_prefix": "fox" } }
    });
    let imported = import(prompt).unwrap();
    let n = nodes(&imported);
    assert_eq!(
        n["1"],
        json!({ "type": "cloud.text_to_image", "params": { "prompt": "a red fox",
        "quality": "high", "width": 1536, "height": 1024, "provider": "openai:gpt-image-1" } })
    );
    assert_eq!(
        n["2"],
        json!({ "type": "cloud.remove_background", "params": { "provider": "recraft:remove-background" },
        "inputs": { "image": "1.image" } })
    );
    assert_eq!(n["3"]["type"], "cloud.image_to_image", "an image linked: an edit");
    // ComfyUI's seed on this node only re-runs it; OpenAI takes none, and a seed would
    // leave the node with no placement.
    assert!(n["1"]["params"].get("seed").is_none());
    assert!(imported.warnings.iter().any(|w| w.contains("takes no width")), "{:?}", imported.warnings);
    let unknown =
        json!({ "1": { "class_type": "OpenAIGPTImage1", "inputs": { "prompt": "x", "model": "gpt-image-9" } } });
    let Err(ImportError::Invalid(p)) = import(unknown) else { panic!("refused") };
    assert!(p[0].message.contains("model = \"gpt-image-9\" is not offered"), "{p:?}");
}

#[test]
fn a_model_loader_becomes_the_model_param_of_the_upscale_and_primitives_drive_params() {
    let prompt = json!({
        "1": { "class_type": "UpscaleModelLoader", "inputs": { "model_name": "upscale2x.onnx" } },
        "2": { "class_type": "LoadImage", "inputs": { "image": "a.png" } },
        "3": { "class_type": "ImageUpscaleWithModel", "inputs": { "upscale_model": ["1", 0], "image": ["2", 0] } },
        "4": { "class_type": "PrimitiveFloat", "inputs": { "value": 2.5 } },
        "5": { "class_type": "ImageBlur", "inputs": { "image": ["3", 0], "sigma": ["4", 0], "blur_radius": 1 } }
    });
    let imported = import(prompt).unwrap();
    let n = nodes(&imported);
    assert_eq!(
        n["3"],
        json!({ "type": "onnx.image", "params": { "model": "upscale2x" }, "inputs": { "image": "2.image" } })
    );
    assert!(n.get("1").is_none(), "the loader is a value, not a node");
    assert_eq!(n["5"]["inputs"], json!({ "image": "3.image", "sigma": "4.value" }), "a primitive drives the param");
}

#[test]
fn an_exported_workflow_imports_back_to_the_same_graph() {
    let registry = registry();
    let mapping = Mapping::builtin().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut files: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut checked = 0;
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(wf) = serde_json::from_str::<switchyard_engine::format::WorkflowFile>(&text) else { continue };
        let prompt = export_api(&wf, &mapping, &registry).unwrap();
        for (id, node) in &prompt {
            if let Some(m) = mapping.node.get(&node.class_type) {
                for required in m.fill.keys().chain(m.only.iter().filter(|(_, v)| v.len() == 1).map(|(k, _)| k)) {
                    assert!(
                        node.inputs.contains_key(required),
                        "{}: node {id} ({}) lacks {required}",
                        file.display(),
                        node.class_type
                    );
                }
            }
        }
        let back = import_api(&prompt, &mapping, &registry, &wf.name).unwrap();
        let strip = |w: &switchyard_engine::format::WorkflowFile| {
            let mut v = serde_json::to_value(&w.nodes).unwrap();
            for node in v.as_object_mut().unwrap().values_mut() {
                let node = node.as_object_mut().unwrap();
                for key in ["placement", "quality", "requires"] {
                    node.remove(key);
                }
            }
            v
        };
        assert_eq!(strip(&back.workflow), strip(&wf), "{}", file.display());
        checked += 1;
    }
    assert!(checked >= 3, "the repository's workflows were checked: {checked}");
}

#[test]
fn a_link_from_a_save_nodes_pass_through_output_is_a_link_from_its_image() {
    let prompt = json!({
        "1": { "class_type": "EmptyImage", "inputs": { "width": 64, "height": 64, "batch_size": 1, "color": 0 } },
        "2": { "class_type": "SaveImage", "inputs": { "images": ["1", 0], "filename_prefix": "a" } },
        "3": { "class_type": "ImageCompare", "inputs": { "image_a": ["2", 0], "image_b": ["1", 0] } }
    });
    let n = nodes(&import(prompt).unwrap());
    assert_eq!(n["3"]["type"], "image.compare");
    assert_eq!(n["3"]["inputs"], json!({ "a": "1.image", "b": "1.image" }));
    // A save node fed by itself (a malformed file) ends in a refusal, never a hang.
    let looped = json!({
        "2": { "class_type": "SaveImage", "inputs": { "images": ["2", 0] } },
        "3": { "class_type": "ImageCompare", "inputs": { "image_a": ["2", 0] } }
    });
    assert!(import(looped).is_err());
}

#[test]
fn stabilitys_nodes_become_cloud_nodes_and_an_aspect_ratio_becomes_a_size_of_that_ratio() {
    let prompt = json!({
        "1": { "class_type": "StabilityStableImageUltraNode", "inputs": { "prompt": "dunes", "aspect_ratio": "21:9",
            "style_preset": "None", "seed": 42 } },
        "2": { "class_type": "StabilityStableImageSD_3_5Node", "inputs": { "prompt": "dunes", "model": "sd3.5-medium",
            "aspect_ratio": "16:9", "style_preset": "None", "cfg_scale": 4.0, "seed": 1 } },
        "3": { "class_type": "StabilityUpscaleFastNode", "inputs": { "image": ["2", 0] } },
        "4": { "class_type": "SaveImage", "inputs": { "images": ["3", 0] } }
    });
    let n = nodes(&import(prompt).unwrap());
    assert_eq!(
        n["1"]["params"],
        json!({ "prompt": "dunes", "seed": 42, "width": 1008, "height": 432, "provider": "stability:ultra" })
    );
    assert_eq!((&n["2"]["params"]["width"], &n["2"]["params"]["height"]), (&json!(1024), &json!(576)));
    assert_eq!(n["2"]["params"]["provider"], "stability:sd3.5-medium");
    assert_eq!(
        n["3"],
        json!({ "type": "cloud.upscale", "params": { "provider": "stability:fast" }, "inputs": { "image": "2.image" } })
    );
    let styled = json!({ "1": { "class_type": "StabilityStableImageUltraNode", "inputs": { "prompt": "x",
        "aspect_ratio": "1:1", "style_preset": "anime", "seed": 0 } } });
    let Err(ImportError::Invalid(p)) = import(styled) else { panic!("a style preset is refused") };
    assert!(p[0].message.contains("style_preset"), "{p:?}");
}

#[test]
fn flux_2_becomes_a_cloud_node_pinned_to_its_model() {
    let prompt = json!({
        "3": { "class_type": "Flux2ImageNode", "inputs": { "prompt": "a boat", "model": "Flux.2 [max]",
            "model.width": 1024, "model.height": 768, "seed": 5 } },
        "4": { "class_type": "SaveImage", "inputs": { "images": ["3", 0] } }
    });
    let n = nodes(&import(prompt).unwrap());
    assert_eq!(
        n["3"]["params"],
        json!({ "prompt": "a boat", "provider": "bfl:flux-2-max", "width": 1024, "height": 768, "seed": 5 })
    );
    // Flux 1.1 Ultra and Kontext are not mapped: the mock serves neither, so nothing here
    // could show they run.
    let ultra = json!({ "1": { "class_type": "FluxProUltraImageNode", "inputs": { "prompt": "x" } } });
    assert!(matches!(import(ultra), Err(ImportError::Unmapped(_))));
}

#[test]
fn elevenlabs_speech_takes_the_selected_voices_id() {
    let prompt = json!({
        "1": { "class_type": "ElevenLabsVoiceSelector", "inputs": { "voice": "Roger (male, american)" } },
        "2": { "class_type": "ElevenLabsTextToSpeech", "inputs": { "voice": ["1", 0], "text": "Hello there.",
            "stability": 0.5, "apply_text_normalization": "auto", "model": "eleven_multilingual_v2", "model.speed": 1.0,
            "model.similarity_boost": 0.75, "model.use_speaker_boost": false, "model.style": 0, "language_code": "",
            "seed": 7, "output_format": "mp3_44100_192" } },
        "3": { "class_type": "SaveAudio", "inputs": { "audio": ["2", 0], "filename_prefix": "line" } }
    });
    let n = nodes(&import(prompt.clone()).unwrap());
    assert_eq!(
        n["2"]["params"],
        json!({ "text": "Hello there.", "voice": "CwhRBWXzGAHq8TQ4Fs17", "provider": "elevenlabs:eleven_multilingual_v2",
            "seed": 7 })
    );
    assert_eq!(n["3"]["params"]["path"], "line_{n}.wav");
    let mut unknown = prompt.clone();
    unknown["1"]["inputs"]["voice"] = json!("Nobody (male, martian)");
    let Err(ImportError::Invalid(p)) = import(unknown) else { panic!("an unknown voice is refused") };
    assert_eq!(p[0].id, "1", "{p:?}");
    let mut faster = prompt;
    faster["2"]["inputs"]["model.speed"] = json!(1.2);
    assert!(matches!(import(faster), Err(ImportError::Invalid(_))), "a voice setting Switchyard cannot send");
}

#[test]
fn ideogram_luma_runway_and_kling_nodes_become_cloud_nodes_pinned_to_their_models() {
    let frame = json!({ "class_type": "LoadImage", "inputs": { "image": "frame.png" } });
    let cases = [
        (
            json!({ "class_type": "IdeogramV3", "inputs": { "prompt": "a poster", "aspect_ratio": "16:9",
                "resolution": "Auto", "magic_prompt_option": "OFF", "seed": 3, "num_images": 1,
                "rendering_speed": "QUALITY" } }),
            json!({ "type": "cloud.text_to_image", "params": { "provider": "ideogram:v3", "prompt": "a poster",
                "width": 1024, "height": 576, "seed": 3, "quality": "high" } }),
        ),
        (
            json!({ "class_type": "LumaImageNode", "inputs": { "prompt": "a crown", "model": "photon-1",
                "aspect_ratio": "21:9", "seed": 4, "style_image_weight": 1.0 } }),
            json!({ "type": "cloud.text_to_image", "params": { "prompt": "a crown", "provider": "luma:photon-1",
                "width": 1008, "height": 432 } }),
        ),
        (
            json!({ "class_type": "RunwayImageToVideoNodeGen4", "inputs": { "start_frame": ["9", 0],
                "prompt": "push in", "duration": 10, "ratio": "1280:720", "seed": 6 } }),
            json!({ "type": "cloud.image_to_video", "params": { "provider": "runway:gen4_turbo", "prompt": "push in",
                "duration_s": 10, "seed": 6 } }),
        ),
        (
            json!({ "class_type": "KlingImage2VideoNode", "inputs": { "start_frame": ["9", 0], "prompt": "waves",
                "negative_prompt": "blur", "model_name": "kling-v1-6", "cfg_scale": 0.5, "mode": "std",
                "aspect_ratio": "16:9", "duration": "10" } }),
            json!({ "type": "cloud.image_to_video", "params": { "prompt": "waves", "negative_prompt": "blur",
                "provider": "kling:kling-v1-6", "duration_s": 10 } }),
        ),
    ];
    for (node, want) in cases {
        let class = node["class_type"].clone();
        let imported = import(json!({ "1": node, "9": frame })).unwrap_or_else(|e| panic!("{class}: {e}"));
        let got = &nodes(&imported)["1"];
        assert_eq!(got["type"], want["type"], "{class}");
        assert_eq!(got["params"], want["params"], "{class}");
    }
    let refused = [
        ("IdeogramV3", json!({ "prompt": "x", "resolution": "1024x1024" }), "resolution"),
        ("IdeogramV3", json!({ "prompt": "x", "num_images": 4 }), "num_images"),
        ("IdeogramV3", json!({ "prompt": "x", "image": ["9", 0] }), "image"),
        ("LumaImageNode", json!({ "prompt": "x", "model": "photon-2" }), "model"),
        ("LumaImageNode", json!({ "prompt": "x", "style_image": ["9", 0] }), "style_image"),
        ("KlingImage2VideoNode", json!({ "start_frame": ["9", 0], "mode": "pro" }), "mode"),
        ("KlingImage2VideoNode", json!({ "start_frame": ["9", 0], "model_name": "kling-v2-master" }), "model_name"),
    ];
    for (class, inputs, input) in refused {
        let prompt = json!({ "1": { "class_type": class, "inputs": inputs }, "9": frame });
        let Err(ImportError::Invalid(p)) = import(prompt) else { panic!("{class}: {input} is refused") };
        assert!(p[0].id == "1" && p[0].message.contains(input), "{class}: {p:?}");
    }
}

#[test]
fn save_video_names_its_video_nodes_file_and_saves_only_a_video() {
    let video = json!({ "class_type": "RunwayImageToVideoNodeGen4", "inputs": { "start_frame": ["9", 0],
        "prompt": "push in", "duration": 5, "ratio": "1280:720", "seed": 1 } });
    let frame = json!({ "class_type": "LoadImage", "inputs": { "image": "frame.png" } });
    let save = |from: &str, prefix: &str| {
        json!({ "class_type": "SaveVideo", "inputs": { "video": [from, 0], "filename_prefix": prefix,
            "format": "auto", "codec": "auto" } })
    };
    let imported = import(json!({ "1": video, "2": save("1", "video/shot"), "9": frame })).unwrap();
    let n = nodes(&imported);
    assert_eq!(n["1"]["params"]["path"], "video/shot_{n}.mp4");
    assert!(n.get("2").is_none(), "SaveVideo becomes no node: {n}");

    let twice = import(json!({ "1": video, "2": save("1", "a"), "3": save("1", "b"), "9": frame })).unwrap();
    assert_eq!(nodes(&twice)["1"]["params"]["path"], "a_{n}.mp4");
    assert!(twice.warnings.iter().any(|w| w.starts_with("node 3 (SaveVideo)")), "{:?}", twice.warnings);

    let not_video = import(json!({ "2": save("9", "x"), "9": frame }));
    let Err(ImportError::Invalid(p)) = not_video else { panic!("an image is not saved as a video") };
    assert!(p[0].id == "2" && p[0].message.contains("cloud.image_to_video"), "{p:?}");
    let unlinked = json!({ "1": video, "2": { "class_type": "SaveVideo", "inputs": { "filename_prefix": "x" } },
        "9": frame });
    let Err(ImportError::Invalid(p)) = import(unlinked) else { panic!("an unlinked SaveVideo is refused") };
    assert!(p[0].id == "2" && p[0].message.contains("\"video\""), "{p:?}");
    let mut webm = save("1", "x");
    webm["inputs"]["format"] = json!("webm");
    let Err(ImportError::Invalid(p)) = import(json!({ "1": video, "2": webm, "9": frame })) else {
        panic!("a format Switchyard cannot write is refused")
    };
    assert!(p[0].id == "2" && p[0].message.contains("format"), "{p:?}");
}
