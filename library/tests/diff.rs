//! The semantic diff: each kind of change, named by node, and the content addresses.

use serde_json::{Value, json};
use switchyard_engine::format::WorkflowFile;
use switchyard_library::diff::Mark;
use switchyard_library::{Change, content_hash, diff, revision_hash};

fn file(v: Value) -> WorkflowFile {
    serde_json::from_value(v).expect("a workflow")
}

fn old() -> WorkflowFile {
    file(json!({ "format": "switchyard.workflow", "version": 1, "name": "plate", "nodes": {
        "clouds": { "type": "image.fill", "params": { "width": 64 } },
        "blur": { "type": "image.blur", "params": { "radius": 2.0 }, "inputs": { "image": "clouds.image" } },
        "gone": { "type": "value.int" }
    }, "ui": { "nodes": { "clouds": { "pos": [0, 0] }, "blur": { "pos": [300, 0] } } } }))
}

#[test]
fn each_kind_of_change_is_named_on_its_node() {
    let new = file(json!({ "format": "switchyard.workflow", "version": 1, "name": "plate v2", "nodes": {
        "clouds": { "type": "image.fill", "params": { "width": 128, "height": 32 }, "quality": "draft" },
        "blur": { "type": "image.blur", "inputs": { "image": "extra.image" }, "placement": { "pin": "local" } },
        "extra": { "type": "image.fill" }
    }, "ui": { "nodes": { "clouds": { "pos": [0, 50] }, "blur": { "pos": [300, 0] } }, "groups": [] } }));
    let d = diff(&old(), &new);
    let lines: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "~ name: \"plate\" -> \"plate v2\"",
            "~ clouds.width: 64 -> 128",
            "~ clouds.height: (unset) -> 32",
            "~ clouds quality: (unset) -> \"draft\"",
            "~ blur.radius: 2.0 -> (unset)",
            "~ blur <- image: \"clouds.image\" -> \"extra.image\"",
            "~ blur placement: (unset) -> {\"pin\":\"local\"}",
            "+ extra (image.fill)",
            "- gone (value.int)",
            "  clouds moved (0, 0) -> (0, 50)",
            "  layout groups changed",
        ]
    );
    assert!(!d.layout_only());
    let marks = d.marks();
    assert_eq!(marks["extra"], Mark::Added);
    assert_eq!(marks["gone"], Mark::Removed);
    assert_eq!(marks["clouds"], Mark::Changed, "a change outranks a move");
    assert_eq!(marks["blur"], Mark::Changed);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json["changes"][1],
        json!({ "kind": "param", "node": "clouds", "param": "width", "old": 64, "new": 128 })
    );
    let back: switchyard_library::Diff = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
}

#[test]
fn a_layout_change_is_layout_only_and_keeps_the_content_hash() {
    let before = old();
    let mut moved = old();
    moved.ui = Some(
        serde_json::from_value(json!({ "nodes": { "clouds": { "pos": [9, 9] }, "blur": { "pos": [300, 0] } } }))
            .unwrap(),
    );
    let d = diff(&before, &moved);
    assert_eq!(d.changes, [Change::Moved { node: "clouds".into(), old: Some([0.0, 0.0]), new: Some([9.0, 9.0]) }]);
    assert!(d.layout_only());
    assert_eq!(content_hash(&before), content_hash(&moved));
    assert_ne!(revision_hash(&before), revision_hash(&moved));
}

#[test]
fn key_order_and_formatting_never_make_a_new_revision() {
    let a = r#"{"format":"switchyard.workflow","version":1,"nodes":{"a":{"type":"value.int","params":{"value":1}},"b":{"type":"value.int"}}}"#;
    let b = "{\n  \"version\": 1, \"format\": \"switchyard.workflow\",\n  \"nodes\": { \"b\": {\"type\": \"value.int\"}, \"a\": {\"params\": {\"value\": 1}, \"type\": \"value.int\"} }\n}";
    let (a, b): (WorkflowFile, WorkflowFile) = (serde_json::from_str(a).unwrap(), serde_json::from_str(b).unwrap());
    assert_eq!(revision_hash(&a), revision_hash(&b));
    assert!(diff(&a, &b).is_empty());
    let h = revision_hash(&a);
    assert_eq!(h.as_str().len(), 64);
    assert!(switchyard_library::RevisionHash::parse(h.as_str()).is_ok());
    assert!(switchyard_library::RevisionHash::parse("abc").is_err());
    assert!(h.matches(&h.as_str()[..8]) && !h.matches(&h.as_str()[..7]));
}
