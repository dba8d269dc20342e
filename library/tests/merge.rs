//! The three-way merge on a table of cases, and its invariants as properties.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use switchyard_engine::format::WorkflowFile;
use switchyard_library::{Side, merge, revision_hash};

fn file(nodes: Value) -> WorkflowFile {
    serde_json::from_value(json!({ "format": "switchyard.workflow", "version": 1, "name": "plate", "nodes": nodes }))
        .expect("a workflow")
}

fn base() -> Value {
    json!({
        "clouds": { "type": "image.fill", "params": { "width": 64, "height": 64, "color": "#336699" } },
        "blur": { "type": "image.blur", "params": { "radius": 2.0 }, "inputs": { "image": "clouds.image" } },
        "save": { "type": "image.save", "params": { "path": "plate.png" }, "inputs": { "image": "blur.image" } }
    })
}

/// `base` with `edit` applied: JSON-pointer-ish paths to values (`null` removes).
fn edited(edits: &[(&str, Value)]) -> Value {
    let mut v = base();
    for (path, value) in edits {
        let parts: Vec<&str> = path.split('.').collect();
        let (last, head) = parts.split_last().unwrap();
        let mut at = &mut v;
        for p in head {
            at = at.as_object_mut().unwrap().entry(p.to_string()).or_insert(json!({}));
        }
        let obj = at.as_object_mut().unwrap();
        if value.is_null() {
            obj.shift_remove(*last);
        } else {
            obj.insert(last.to_string(), value.clone());
        }
    }
    v
}

#[test]
fn three_way_merge_cases() {
    struct Case {
        name: &'static str,
        ours: Vec<(&'static str, Value)>,
        theirs: Vec<(&'static str, Value)>,
        want: Vec<(&'static str, Value)>,
        conflicts: Vec<&'static str>,
    }
    let cases = vec![
        Case { name: "nothing changed", ours: vec![], theirs: vec![], want: vec![], conflicts: vec![] },
        Case {
            name: "disjoint params of one node",
            ours: vec![("clouds.params.width", json!(128))],
            theirs: vec![("clouds.params.color", json!("#ff0000"))],
            want: vec![("clouds.params.width", json!(128)), ("clouds.params.color", json!("#ff0000"))],
            conflicts: vec![],
        },
        Case {
            name: "different nodes",
            ours: vec![("blur.params.radius", json!(4.0))],
            theirs: vec![("save.params.path", json!("final.png"))],
            want: vec![("blur.params.radius", json!(4.0)), ("save.params.path", json!("final.png"))],
            conflicts: vec![],
        },
        Case {
            name: "the same change on both sides",
            ours: vec![("blur.params.radius", json!(4.0))],
            theirs: vec![("blur.params.radius", json!(4.0))],
            want: vec![("blur.params.radius", json!(4.0))],
            conflicts: vec![],
        },
        Case {
            name: "the same param changed differently",
            ours: vec![("blur.params.radius", json!(4.0))],
            theirs: vec![("blur.params.radius", json!(8.0))],
            want: vec![("blur.params.radius", json!(4.0))],
            conflicts: vec!["blur.params.radius"],
        },
        Case {
            name: "a rewire on one side, a param on the other",
            ours: vec![("save.inputs.image", json!("clouds.image"))],
            theirs: vec![("blur.params.radius", json!(1.0))],
            want: vec![("save.inputs.image", json!("clouds.image")), ("blur.params.radius", json!(1.0))],
            conflicts: vec![],
        },
        Case {
            name: "the same wire changed differently",
            ours: vec![("save.inputs.image", json!("clouds.image"))],
            theirs: vec![("save.inputs.image", json!("x.image"))],
            want: vec![("save.inputs.image", json!("clouds.image"))],
            conflicts: vec!["save.inputs.image"],
        },
        Case {
            name: "a param reset on one side, changed on the other",
            ours: vec![("blur.params.radius", Value::Null)],
            theirs: vec![("blur.params.radius", json!(3.0))],
            want: vec![("blur.params", Value::Null)],
            conflicts: vec!["blur.params.radius"],
        },
        Case {
            name: "both add different nodes",
            ours: vec![("a", json!({ "type": "image.invert", "inputs": { "image": "blur.image" } }))],
            theirs: vec![("b", json!({ "type": "value.int", "params": { "value": 3 } }))],
            want: vec![
                ("a", json!({ "type": "image.invert", "inputs": { "image": "blur.image" } })),
                ("b", json!({ "type": "value.int", "params": { "value": 3 } })),
            ],
            conflicts: vec![],
        },
        Case {
            name: "both add one id differently",
            ours: vec![("n", json!({ "type": "value.int", "params": { "value": 1 } }))],
            theirs: vec![("n", json!({ "type": "value.int", "params": { "value": 2 } }))],
            want: vec![("n", json!({ "type": "value.int", "params": { "value": 1 } }))],
            conflicts: vec!["n.params.value"],
        },
        Case {
            name: "removed on one side, untouched on the other",
            ours: vec![("save", Value::Null)],
            theirs: vec![("clouds.params.width", json!(32))],
            want: vec![("save", Value::Null), ("clouds.params.width", json!(32))],
            conflicts: vec![],
        },
        Case {
            name: "removed on one side, changed on the other",
            ours: vec![("save", Value::Null)],
            theirs: vec![("save.params.path", json!("x.png"))],
            want: vec![("save", Value::Null)],
            conflicts: vec!["save"],
        },
        Case {
            name: "retyped differently",
            ours: vec![("blur.type", json!("image.sharpen"))],
            theirs: vec![("blur.type", json!("image.invert"))],
            want: vec![("blur.type", json!("image.sharpen"))],
            conflicts: vec!["blur.type"],
        },
        Case {
            name: "quality on one side, a param on the other",
            ours: vec![("blur.quality", json!("draft"))],
            theirs: vec![("blur.params.radius", json!(5.0))],
            want: vec![("blur.quality", json!("draft")), ("blur.params.radius", json!(5.0))],
            conflicts: vec![],
        },
    ];
    for c in cases {
        let (b, o, t) = (file(base()), file(edited(&c.ours)), file(edited(&c.theirs)));
        let merged = merge(&b, &o, &t, &BTreeMap::new());
        let keys: Vec<&str> = merged.conflicts.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, c.conflicts, "{}: conflicts", c.name);
        assert_eq!(
            revision_hash(&merged.file),
            revision_hash(&file(edited(&c.want))),
            "{}: {:#?}",
            c.name,
            merged.file
        );
    }
}

#[test]
fn a_conflict_takes_the_side_the_user_picks() {
    let (b, o, t) = (
        file(base()),
        file(edited(&[("blur.params.radius", json!(4.0)), ("save", Value::Null)])),
        file(edited(&[("blur.params.radius", json!(8.0)), ("save.params.path", json!("x.png"))])),
    );
    let first = merge(&b, &o, &t, &BTreeMap::new());
    let names: Vec<&str> = first.conflicts.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(names, ["blur.params.radius", "save"]);
    assert_eq!(first.conflicts[0].base, Some(json!(2.0)));
    assert_eq!(
        (first.conflicts[0].ours.clone(), first.conflicts[0].theirs.clone()),
        (Some(json!(4.0)), Some(json!(8.0)))
    );
    let choices =
        BTreeMap::from([("blur.params.radius".to_string(), Side::Theirs), ("save".to_string(), Side::Theirs)]);
    let picked = merge(&b, &o, &t, &choices);
    assert!(picked.is_clean());
    let want = edited(&[("blur.params.radius", json!(8.0)), ("save.params.path", json!("x.png"))]);
    assert_eq!(revision_hash(&picked.file), revision_hash(&file(want)));
}

#[test]
fn both_sides_moving_a_node_keeps_ours_and_says_so() {
    let with_ui = |x: f64, y: f64| {
        let mut f = file(base());
        f.ui = Some(serde_json::from_value(json!({ "nodes": { "blur": { "pos": [x, y] } } })).unwrap());
        f
    };
    let merged = merge(&with_ui(0.0, 0.0), &with_ui(10.0, 0.0), &with_ui(0.0, 99.0), &BTreeMap::new());
    assert!(merged.is_clean(), "layout never conflicts");
    assert_eq!(merged.layout_kept, ["position of blur"]);
    assert_eq!(merged.file.ui.unwrap()["nodes"]["blur"]["pos"], json!([10.0, 0.0]));
    let moved_once = merge(&with_ui(0.0, 0.0), &with_ui(0.0, 0.0), &with_ui(5.0, 5.0), &BTreeMap::new());
    assert_eq!(moved_once.file.ui.unwrap()["nodes"]["blur"]["pos"], json!([5.0, 5.0]));
}

/// A random edit of the base: params changed or removed, nodes removed or added, moves.
fn an_edit() -> impl Strategy<Value = Vec<(String, Value)>> {
    let step = prop_oneof![
        (0..3usize, -100i64..100)
            .prop_map(|(n, v)| (format!("{}.params.p{}", ["clouds", "blur", "save"][n], v.rem_euclid(3)), json!(v))),
        (0..3usize).prop_map(|n| (["clouds", "blur", "save"][n].to_string(), Value::Null)),
        (0..5u8, 0..10i64)
            .prop_map(|(n, v)| (format!("new{n}"), json!({ "type": "value.int", "params": { "value": v } }))),
        (0..3usize).prop_map(|n| (format!("blur.inputs.in{n}"), json!("clouds.image"))),
    ];
    prop::collection::vec(step, 0..8)
}

fn apply(edit: &[(String, Value)]) -> WorkflowFile {
    let steps: Vec<(&str, Value)> = edit.iter().map(|(p, v)| (p.as_str(), v.clone())).collect();
    // A step into a removed node would bring it back half-made: apply removals last.
    let (removals, rest): (Vec<_>, Vec<_>) = steps.into_iter().partition(|(p, v)| v.is_null() && !p.contains('.'));
    let mut all = rest;
    all.extend(removals);
    file(edited(&all))
}

proptest! {
    #[test]
    fn merging_a_change_with_no_change_gives_the_change(edit in an_edit()) {
        let (b, change) = (file(base()), apply(&edit));
        let theirs_empty = merge(&b, &change, &b, &BTreeMap::new());
        prop_assert!(theirs_empty.is_clean());
        prop_assert_eq!(revision_hash(&theirs_empty.file), revision_hash(&change));
        let ours_empty = merge(&b, &b, &change, &BTreeMap::new());
        prop_assert!(ours_empty.is_clean());
        prop_assert_eq!(revision_hash(&ours_empty.file), revision_hash(&change));
    }

    #[test]
    fn merge_is_symmetric_up_to_which_side_a_conflict_keeps(a in an_edit(), b in an_edit()) {
        let base = file(base());
        let (x, y) = (apply(&a), apply(&b));
        let xy = merge(&base, &x, &y, &BTreeMap::new());
        let yx = merge(&base, &y, &x, &BTreeMap::new());
        let keys = |m: &switchyard_library::Merged| m.conflicts.iter().map(|c| c.key.clone()).collect::<std::collections::BTreeSet<_>>();
        prop_assert_eq!(keys(&xy), keys(&yx));
        if xy.is_clean() {
            prop_assert_eq!(revision_hash(&xy.file), revision_hash(&yx.file));
        }
    }

    #[test]
    fn no_edit_is_lost_in_a_clean_merge(a in an_edit(), b in an_edit()) {
        let base = file(base());
        let (x, y) = (apply(&a), apply(&b));
        let m = merge(&base, &x, &y, &BTreeMap::new());
        prop_assume!(m.is_clean());
        // Every change either side made from the base is in the result.
        for side in [&x, &y] {
            for change in switchyard_library::diff(&base, side).changes {
                let after = switchyard_library::diff(&base, &m.file).changes;
                prop_assert!(after.contains(&change), "{change} is lost: {after:?}");
            }
        }
    }
}
