//! Data-driven runs: each `tests/fixtures/run/NAME.json` runs, and its statuses and output
//! sizes must match `NAME.expected.json`.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};
use switchyard_engine::Value;

use crate::support::{Log, executor, graph, options, probe_registry, run};

fn check(input: &Path, expect: &Path) {
    let reg = probe_registry(&Arc::new(Log::default()));
    let g = graph(&reg, &std::fs::read_to_string(input).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let report = run(&executor(2), &g, options(tmp.path()));
    let mut nodes = Map::new();
    let mut sizes = Map::new();
    for n in &report.nodes {
        nodes.insert(n.id.to_string(), json!(n.status));
        if let Some(Value::Image(img)) = report.value(n.id.as_str(), "image") {
            sizes.insert(n.id.to_string(), json!([img.width(), img.height()]));
        }
    }
    let actual = json!({ "status": report.status, "nodes": nodes, "image_sizes": sizes });
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(expect, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        return;
    }
    let expected: Json = serde_json::from_str(&std::fs::read_to_string(expect).unwrap()).unwrap();
    assert_eq!(actual, expected, "{} ran differently", input.display());
}

#[test]
fn every_run_fixture_matches_its_expected_outcome() {
    let files = crate::support::fixture_workflows("run");
    for path in &files {
        check(path, &path.with_extension("expected.json"));
    }
    assert!(files.len() >= 3);
}
