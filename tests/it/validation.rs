//! Data-driven validation: each `tests/fixtures/invalid/NAME.json` must fail with exactly the
//! diagnostics in `NAME.expected`. Run with `UPDATE_EXPECT=1` to rewrite the expectations.

use std::path::Path;

use switchyard_engine::{CompileOptions, compile_text, load_workflow};

/// Validates `input` and compares the rendered diagnostics with the `expect` file.
fn check(input: &Path, expect: &Path) {
    let text = std::fs::read_to_string(input).unwrap();
    let registry = switchyard_nodes::builtin_registry();
    let actual = match load_workflow(&text, &registry, &[], &CompileOptions::default()) {
        Ok(_) => panic!("{} should be invalid", input.display()),
        Err(d) => d.to_string(),
    };
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(expect, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expect).unwrap_or_else(|_| panic!("missing {}", expect.display()));
    assert_eq!(actual, expected, "diagnostics for {} changed", input.display());
}

#[test]
fn every_invalid_fixture_reports_its_expected_diagnostics() {
    let files = crate::support::fixture_workflows("invalid");
    for path in &files {
        check(path, &path.with_extension("expected"));
    }
    assert!(files.len() >= 12, "only {} fixtures found", files.len());
}

#[test]
fn every_template_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let registry = switchyard_nodes::builtin_registry();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            if let Err(d) = load_workflow(&text, &registry, &[], &CompileOptions::default()) {
                panic!("{} is invalid:\n{d}", path.display());
            }
        }
    }
}

/// A file over the node limit is refused with that one diagnostic, by either read, before
/// any node is checked: its other problems cost nothing to find. Muted and bypassed nodes do
/// not count; an entry that cannot be read does.
#[test]
fn a_graph_over_the_node_limit_is_refused_by_the_limit_alone() {
    let registry = switchyard_nodes::builtin_registry();
    let int = |v: i64| format!(r#"{{"type": "value.int", "params": {{"value": {v}}}}}"#);
    let file = |nodes: &[(&str, String)]| {
        let body: Vec<String> = nodes.iter().map(|(id, n)| format!("{id:?}: {n}")).collect();
        format!(r#"{{"format": "switchyard.workflow", "version": 1, "nodes": {{{}}}}}"#, body.join(", "))
    };
    let muted = r#"{"type": "value.int", "mode": "mute"}"#.to_string();
    let unknown = r#"{"type": "no.such_type"}"#.to_string();
    let malformed = r#"{"type": "value.int", "params": 7}"#.to_string();
    // (what, nodes, limit, refused with: Some(running count) or None for accepted)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, usize, Option<usize>);
    let cases: Vec<Case> = vec![
        ("three plain nodes, limit 2", vec![("a", int(1)), ("b", int(2)), ("c", int(3))], 2, Some(3)),
        ("three plain nodes, limit 3", vec![("a", int(1)), ("b", int(2)), ("c", int(3))], 3, None),
        ("a muted node does not count", vec![("a", int(1)), ("b", int(2)), ("m", muted)], 2, None),
        ("an unknown type is not reported", vec![("a", int(1)), ("x", unknown), ("c", int(3))], 2, Some(3)),
        ("a malformed node counts", vec![("a", int(1)), ("bad", malformed), ("c", int(3))], 2, Some(3)),
    ];
    for (what, nodes, limit, refused) in cases {
        let text = file(&nodes);
        let opts = CompileOptions { max_nodes: limit, ..CompileOptions::default() };
        let full = load_workflow(&text, &registry, &[], &opts).map(|_| ()).map_err(|d| d.to_string());
        let streamed = compile_text(&text, &registry, &[], &opts).map(|_| ()).map_err(|d| d.to_string());
        assert_eq!(full, streamed, "{what}: both reads agree");
        match refused {
            Some(count) => {
                let err = full.expect_err(what);
                assert_eq!(err.matches("graph-too-large").count(), 1, "{what}: {err}");
                assert!(err.contains(&format!("the graph has {count} nodes; the limit is {limit}")), "{what}: {err}");
                assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "{what}: only the limit: {err}");
            }
            None => assert!(full.is_ok(), "{what}: {full:?}"),
        }
    }
}

/// Bypassed nodes pass their input through and muted ones are left out: neither is in the
/// compiled graph, and the wires around them are joined as the file says.
#[test]
fn bypassed_and_muted_nodes_leave_the_graph_and_bypass_joins_the_wires() {
    let registry = switchyard_nodes::builtin_registry();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/lookdev-draft.json"))
        .unwrap()
        .replace(r#""type": "image.blur","#, r#""type": "image.blur", "mode": "bypass","#)
        .replace(r#""type": "image.save","#, r#""type": "image.save", "mode": "mute","#);
    let (file, graph) = load_workflow(&text, &registry, &[], &CompileOptions::default()).unwrap();
    assert_eq!(file.nodes["soft"].mode, switchyard_engine::format::NodeMode::Bypass, "the file keeps the mode");
    let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["clouds", "grain", "grade", "texture"], "soft (bypassed) and save (muted) are out");
    let grade = graph.nodes.iter().find(|n| n.id.as_str() == "grade").unwrap();
    let source = grade.inputs[0].sources[0].node;
    assert_eq!(graph.nodes[source].id.as_str(), "clouds", "grade reads clouds through the bypassed blur");
    let saved = serde_json::to_string(&file).unwrap();
    assert!(saved.contains(r#""mode":"bypass""#) && !saved.contains(r#""mode":"always""#), "{saved}");
}

/// The templates are kept in the canonical form the editor saves, so opening and saving one
/// changes nothing.
#[test]
fn every_template_is_in_canonical_form() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = switchyard_engine::format::parse_workflow(&text).file.unwrap();
            assert_eq!(
                switchyard_engine::format::to_canonical_text(&file),
                text,
                "{}: run `switchyard fmt`",
                path.display()
            );
        }
    }
}
