//! Property: in any DAG, every node runs exactly once, and only after all of its inputs finished.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use switchyard_engine::{NodeStatus, RunStatus, Value};

use crate::support::{Log, executor, graph, options, probe_registry, run, workflow};

/// A random DAG: node `i` takes inputs from a subset of nodes before it, with a sleep and a salt.
fn dag() -> impl Strategy<Value = Vec<(Vec<usize>, i64, i64)>> {
    (1usize..40).prop_flat_map(|n| {
        let nodes: Vec<_> =
            (0..n).map(|i| (proptest::collection::vec(0..i.max(1), 0..=i.min(4)), 0i64..3, -5i64..5)).collect();
        nodes.prop_map(|mut v| {
            for (i, (ins, _, _)) in v.iter_mut().enumerate() {
                ins.retain(|&j| j < i);
                ins.sort_unstable();
                ins.dedup();
            }
            v
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_node_runs_once_after_all_its_inputs(spec in dag(), cpu_limit in 1usize..4) {
        let log = Arc::new(Log::default());
        let reg = probe_registry(&log);
        let nodes: serde_json::Map<String, serde_json::Value> = spec
            .iter()
            .enumerate()
            .map(|(i, (ins, ms, salt))| {
                let wires: Vec<String> = ins.iter().map(|j| format!("n{j}.out")).collect();
                let entry = if wires.is_empty() {
                    json!({ "type": "test.source", "params": { "ms": ms, "salt": salt } })
                } else {
                    json!({ "type": "test.step", "params": { "ms": ms, "salt": salt }, "inputs": { "in": wires } })
                };
                (format!("n{i}"), entry)
            })
            .collect();
        let g = graph(&reg, &workflow(serde_json::Value::Object(nodes)));
        let tmp = tempfile::tempdir().unwrap();
        let report = run(&executor(cpu_limit), &g, options(tmp.path()));
        prop_assert_eq!(report.status, RunStatus::Succeeded);
        prop_assert_eq!(report.count(NodeStatus::Executed), spec.len());

        let order = log.order.lock().unwrap().clone();
        let at: HashMap<(String, &str), usize> = order.iter().enumerate().map(|(k, (id, what))| ((id.clone(), *what), k)).collect();
        let mut expected = vec![0i64; spec.len()];
        for (i, (ins, _, salt)) in spec.iter().enumerate() {
            let id = format!("n{i}");
            prop_assert_eq!(log.runs_of(&id), 1, "{} ran {} times", id, log.runs_of(&id));
            for j in ins {
                prop_assert!(at[&(format!("n{j}"), "end")] < at[&(id.clone(), "start")], "n{} started before its input n{} ended", i, j);
            }
            expected[i] = ins.iter().map(|&j| expected[j]).sum::<i64>() + salt;
            prop_assert_eq!(report.value(&id, "out"), Some(&Value::Int(expected[i])));
        }
    }
}
