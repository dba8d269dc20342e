//! ComfyUI's UI format flattened as its frontend does before queueing: subgraphs expanded,
//! reroutes followed, primitives and promoted widgets inlined, muted nodes dropped and
//! bypassed ones passed through, notes kept.

use serde_json::json;
use switchyard_comfy::{Mapping, flatten};

#[test]
fn a_ui_file_flattens_to_the_prompt_its_frontend_would_queue() {
    let ui = json!({
        "version": 0.4,
        "nodes": [
            { "id": 1, "type": "LoadImage", "mode": 0, "inputs": [],
              "outputs": [{ "name": "IMAGE", "type": "IMAGE", "links": [1] }, { "name": "MASK", "type": "MASK", "links": null }],
              "widgets_values": ["frame.png", "image"] },
            { "id": 2, "type": "Reroute", "mode": 0, "inputs": [{ "name": "", "type": "*", "link": 1 }],
              "outputs": [{ "name": "", "type": "IMAGE", "links": [2] }] },
            { "id": 3, "type": "ImageInvert", "mode": 4, "inputs": [{ "name": "image", "type": "IMAGE", "link": 2 }],
              "outputs": [{ "name": "IMAGE", "type": "IMAGE", "links": [3] }] },
            { "id": 4, "type": "PrimitiveNode", "mode": 0, "inputs": [],
              "outputs": [{ "name": "FLOAT", "type": "FLOAT", "widget": { "name": "sigma" }, "links": [4] }],
              "widgets_values": [2.5, "fixed"] },
            { "id": 5, "type": "sub-blur", "mode": 0,
              "inputs": [{ "name": "image", "type": "IMAGE", "link": 3 }, { "name": "sigma", "type": "FLOAT", "link": 4 },
                         { "name": "prefix", "type": "STRING", "widget": { "name": "prefix" }, "link": null }],
              "outputs": [{ "name": "IMAGE", "type": "IMAGE", "links": [5] }],
              "widgets_values": ["shots/out"] },
            { "id": 6, "type": "PreviewImage", "mode": 0, "inputs": [{ "name": "images", "type": "IMAGE", "link": 5 }] },
            { "id": 7, "type": "ImageCrop", "mode": 2, "inputs": [{ "name": "image", "type": "IMAGE", "link": null }],
              "widgets_values": [8, 8, 0, 0] },
            { "id": 8, "type": "MarkdownNote", "mode": 0, "widgets_values": ["Read me first"] }
        ],
        "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"], [3, 3, 0, 5, 0, "IMAGE"], [4, 4, 0, 5, 1, "FLOAT"],
                  [5, 5, 0, 6, 0, "IMAGE"]],
        "definitions": { "subgraphs": [{
            "id": "sub-blur", "name": "blur and save",
            "inputs": [{ "name": "image" }, { "name": "sigma" }, { "name": "prefix" }],
            "outputs": [{ "name": "IMAGE" }],
            "nodes": [
                { "id": 1, "type": "ImageBlur", "mode": 0,
                  "inputs": [{ "name": "image", "type": "IMAGE", "link": 10 }, { "name": "sigma", "type": "FLOAT", "widget": { "name": "sigma" }, "link": 11 }],
                  "outputs": [{ "name": "IMAGE", "type": "IMAGE", "links": [12, 13] }], "widgets_values": [3, 1.0] },
                { "id": 2, "type": "SaveImage", "mode": 0,
                  "inputs": [{ "name": "images", "type": "IMAGE", "link": 12 }, { "name": "filename_prefix", "type": "STRING", "widget": { "name": "filename_prefix" }, "link": 14 }],
                  "widgets_values": ["ComfyUI"] }
            ],
            "links": [
                { "id": 10, "origin_id": -10, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "IMAGE" },
                { "id": 11, "origin_id": -10, "origin_slot": 1, "target_id": 1, "target_slot": 1, "type": "FLOAT" },
                { "id": 12, "origin_id": 1, "origin_slot": 0, "target_id": 2, "target_slot": 0, "type": "IMAGE" },
                { "id": 13, "origin_id": 1, "origin_slot": 0, "target_id": -20, "target_slot": 0, "type": "IMAGE" },
                { "id": 14, "origin_id": -10, "origin_slot": 2, "target_id": 2, "target_slot": 1, "type": "STRING" }
            ]
        }] }
    });
    let flat = flatten(ui, &Mapping::builtin().unwrap()).unwrap();
    let prompt = serde_json::to_value(&flat.prompt).unwrap();
    assert_eq!(
        prompt,
        json!({
            "1": { "class_type": "LoadImage", "inputs": { "image": "frame.png", "upload": "image" } },
            "5:1": { "class_type": "ImageBlur", "inputs": { "blur_radius": 3, "sigma": 2.5, "image": ["1", 0] } },
            "5:2": { "class_type": "SaveImage", "inputs": { "filename_prefix": "shots/out", "images": ["5:1", 0] } },
            "6": { "class_type": "PreviewImage", "inputs": { "images": ["5:1", 0] } }
        }),
        "the reroute is followed, the bypassed invert passed through, the muted crop dropped, the primitive and \
         the promoted widget inlined, the subgraph's output traced to its inner node"
    );
    assert_eq!(flat.notes.get("8").map(String::as_str), Some("Read me first"));
}

#[test]
fn broken_ui_files_are_refused_with_what_is_wrong() {
    let mapping = Mapping::builtin().unwrap();
    let cases = [
        (json!({ "nodes": [{ "type": "LoadImage" }] }), "missing field `id`"),
        (json!({ "nodes": [], "links": [[1, 2]] }), "a link is [id, origin, slot, target, slot, type]"),
        (json!({ "nodes": "x" }), "not a ComfyUI UI-format workflow"),
    ];
    for (ui, says) in cases {
        let e = flatten(ui.clone(), &mapping).unwrap_err();
        assert!(e.contains(says), "{says}: {e}");
    }
}

#[test]
fn groups_go_to_comfyuis_frontend_with_its_names_and_broken_ones_stay_behind() {
    let text = json!({
        "format": "switchyard.workflow", "version": 1, "name": "g",
        "nodes": { "noise": { "type": "image.noise" } },
        "ui": { "groups": [
            { "title": "Plates", "color": "#4a8a4e", "bounding": [10, 20, 300, 200] },
            { "title": "no box" },
            { "bounding": [0, 0, 50, 50] },
        ] },
    })
    .to_string();
    let file = switchyard_engine::format::parse_workflow(&text).file.expect("the file reads");
    let ui = switchyard_comfy::ui_of(&file, &switchyard_nodes::builtin_registry()).unwrap();
    assert_eq!(
        ui["groups"],
        json!([
            { "id": 1, "title": "Plates", "color": "#4a8a4e", "bounding": [10.0, 20.0, 300.0, 200.0], "font_size": 24, "flags": {} },
            { "id": 2, "title": "Group", "color": "#3f789e", "bounding": [0.0, 0.0, 50.0, 50.0], "font_size": 24, "flags": {} },
        ])
    );
}
