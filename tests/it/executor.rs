//! Executor behaviour: failures and panics are recorded, cancellation, limits, and exact cache counts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use switchyard_engine::cache::Cache;
use switchyard_engine::{Event, EventKind, EventSink, Executor, ExecutorConfig, NodeStatus, RunStatus, Value};

use crate::support::{Log, disk_executor, executor, graph, options, probe_registry, run, runtime, workflow};

fn statuses(report: &switchyard_engine::RunReport) -> Vec<(String, NodeStatus)> {
    let mut v: Vec<_> = report.nodes.iter().map(|n| (n.id.to_string(), n.status)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn a_panicking_node_is_a_recorded_failure_and_independent_branches_finish() {
    for panic_type in ["test.panic", "test.panic_blocking", "test.instant_panic"] {
        let log = Arc::new(Log::default());
        let reg = probe_registry(&log);
        let g = graph(
            &reg,
            &workflow(json!({
                "boom": { "type": panic_type },
                "after": { "type": "test.step", "inputs": { "in": "boom.out" } },
                "after2": { "type": "test.step", "inputs": { "in": "after.out" } },
                "other": { "type": "test.source", "params": { "ms": 20 } },
                "other2": { "type": "test.step", "inputs": { "in": "other.out" } }
            })),
        );
        let tmp = tempfile::tempdir().unwrap();
        let report = run(&executor(2), &g, options(tmp.path()));
        assert_eq!(report.status, RunStatus::Failed, "a panic must never read as success");
        assert_eq!(
            statuses(&report),
            vec![
                ("after".into(), NodeStatus::Skipped),
                ("after2".into(), NodeStatus::Skipped),
                ("boom".into(), NodeStatus::Failed),
                ("other".into(), NodeStatus::Executed),
                ("other2".into(), NodeStatus::Executed),
            ]
        );
        let boom = report.node("boom").unwrap();
        assert!(boom.error().unwrap().contains("exploded"), "{:?}", boom.error());
        assert!(report.node("after2").unwrap().error().unwrap().contains("\"after\" was skipped"));
    }
}

#[test]
fn an_error_fails_the_node_and_fail_fast_stops_new_launches() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let text = workflow(json!({
        "bad": { "type": "test.fail" },
        "slow": { "type": "test.source", "params": { "ms": 50 } },
        "later": { "type": "test.step", "inputs": { "in": "slow.out" } }
    }));
    let g = graph(&reg, &text);
    let tmp = tempfile::tempdir().unwrap();
    let report = run(&executor(4), &g, options(tmp.path()));
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.node("later").unwrap().status, NodeStatus::Executed);

    let config = ExecutorConfig { fail_fast: true, ..ExecutorConfig::default() };
    let exec = Executor::new(config, Arc::new(Cache::memory(1 << 20)));
    let report = run(&exec, &g, options(tmp.path()));
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.node("bad").unwrap().status, NodeStatus::Failed);
    assert_eq!(report.node("later").unwrap().status, NodeStatus::Cancelled);
}

#[test]
fn cancellation_stops_launches_and_reports_what_finished() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let g = graph(
        &reg,
        &workflow(json!({
            "quick": { "type": "test.source" },
            "long": { "type": "test.source", "params": { "ms": 30000 } },
            "after": { "type": "test.step", "inputs": { "in": "long.out" } }
        })),
    );
    let tmp = tempfile::tempdir().unwrap();
    let opts = options(tmp.path());
    let cancel = opts.cancel.clone();
    let exec = executor(2);
    let rt = runtime();
    let started = std::time::Instant::now();
    let report = rt.block_on(async {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        });
        exec.run(&g, opts).await
    });
    assert!(started.elapsed() < Duration::from_secs(10), "cancel must not wait for the 30 s node");
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.node("quick").unwrap().status, NodeStatus::Executed);
    assert_eq!(report.node("long").unwrap().status, NodeStatus::Cancelled);
    assert_eq!(report.node("after").unwrap().status, NodeStatus::Cancelled);
}

#[test]
fn a_node_past_its_timeout_fails_with_a_clear_message() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let g = graph(&reg, &workflow(json!({ "slow": { "type": "test.source", "params": { "ms": 5000 } } })));
    let config = ExecutorConfig { node_timeout_ms: 50, ..ExecutorConfig::default() };
    let exec = Executor::new(config, Arc::new(Cache::memory(1 << 20)));
    let tmp = tempfile::tempdir().unwrap();
    let report = run(&exec, &g, options(tmp.path()));
    let slow = report.node("slow").unwrap();
    assert_eq!(slow.status, NodeStatus::Failed);
    assert!(slow.error().unwrap().contains("timed out after 50 ms"), "{:?}", slow.error());
}

#[test]
fn concurrency_never_exceeds_the_class_limit_even_past_a_timeout() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let nodes: serde_json::Map<String, serde_json::Value> = (0..8)
        .map(|i| (format!("n{i}"), json!({ "type": "test.source", "params": { "ms": 40, "salt": i } })))
        .collect();
    let g = graph(&reg, &workflow(serde_json::Value::Object(nodes)));
    let tmp = tempfile::tempdir().unwrap();
    let report = run(&executor(3), &g, options(tmp.path()));
    assert_eq!(report.count(NodeStatus::Executed), 8);
    assert_eq!(log.max_running.load(Ordering::SeqCst), 3);

    // Blocking work that ignores cancellation keeps its slot past its timeout, so the second
    // stubborn node can start only when the first one's 300 ms of work ends, not at its 50 ms timeout.
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let g = graph(
        &reg,
        &workflow(json!({
            "a": { "type": "test.stubborn", "params": { "ms": 300 } },
            "b": { "type": "test.stubborn", "params": { "ms": 300 } }
        })),
    );
    let config = ExecutorConfig { cpu_limit: 1, node_timeout_ms: 50, ..ExecutorConfig::default() };
    let exec = Executor::new(config, Arc::new(Cache::memory(1 << 20)));
    let report = run(&exec, &g, options(tmp.path()));
    assert_eq!(report.count(NodeStatus::Failed), 2);
    assert!(report.duration_ms >= 300, "the second node started early: run took {} ms", report.duration_ms);
}

#[test]
fn local_accelerator_nodes_are_bounded_by_their_own_limit() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let nodes: serde_json::Map<String, serde_json::Value> =
        (0..6).map(|i| (format!("a{i}"), json!({ "type": "test.accel", "params": { "ms": 40, "salt": i } }))).collect();
    let g = graph(&reg, &workflow(serde_json::Value::Object(nodes)));
    let config = ExecutorConfig { cpu_limit: 8, accelerator_limit: 2, ..ExecutorConfig::default() };
    let exec = Executor::new(config, Arc::new(Cache::memory(1 << 20)));
    let tmp = tempfile::tempdir().unwrap();
    let report = run(&exec, &g, options(tmp.path()));
    assert_eq!(report.count(NodeStatus::Executed), 6);
    assert_eq!(log.max_running.load(Ordering::SeqCst), 2, "two accelerator slots, however many CPU slots");
}

fn chain(salt_of_c: i64) -> String {
    workflow(json!({
        "a": { "type": "test.source", "params": { "salt": 1 } },
        "b": { "type": "test.step", "inputs": { "in": "a.out" } },
        "c": { "type": "test.step", "params": { "salt": salt_of_c }, "inputs": { "in": "b.out" } },
        "d": { "type": "test.step", "inputs": { "in": "c.out" } },
        "side": { "type": "test.step", "inputs": { "in": "a.out" } },
        "rand": { "type": "test.random" }
    }))
}

#[test]
fn cached_rerun_counts_are_exact_and_a_param_change_reruns_only_descendants() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let exec = executor(2);
    let tmp = tempfile::tempdir().unwrap();
    let first = run(&exec, &graph(&reg, &chain(0)), options(tmp.path()));
    assert_eq!((first.count(NodeStatus::Executed), first.count(NodeStatus::Cached)), (6, 0));
    let again = run(&exec, &graph(&reg, &chain(0)), options(tmp.path()));
    // Everything deterministic is cached; the non-deterministic node always runs.
    assert_eq!((again.count(NodeStatus::Executed), again.count(NodeStatus::Cached)), (1, 5));
    assert_eq!(again.node("rand").unwrap().status, NodeStatus::Executed);
    let changed = run(&exec, &graph(&reg, &chain(5)), options(tmp.path()));
    let mut executed: Vec<&str> =
        changed.nodes.iter().filter(|n| n.status == NodeStatus::Executed).map(|n| n.id.as_str()).collect();
    executed.sort_unstable();
    assert_eq!(executed, vec!["c", "d", "rand"], "only c, its descendant d, and the non-deterministic node");
    assert_eq!(changed.value("d", "out"), Some(&Value::Int(6)));
    assert_eq!(log.runs_of("a"), 1);
}

#[test]
fn ui_layout_never_changes_cache_keys() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let exec = executor(2);
    let tmp = tempfile::tempdir().unwrap();
    let plain = workflow(json!({ "a": { "type": "test.source", "params": { "salt": 3 } } }));
    let mut with_ui: serde_json::Value = serde_json::from_str(&plain).unwrap();
    with_ui["ui"] = json!({ "nodes": { "a": { "pos": [10, 20] } } });
    run(&exec, &graph(&reg, &plain), options(tmp.path()));
    let again = run(&exec, &graph(&reg, &with_ui.to_string()), options(tmp.path()));
    assert_eq!(again.node("a").unwrap().status, NodeStatus::Cached);
}

#[test]
fn disk_cache_serves_a_fresh_executor() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let tmp = tempfile::tempdir().unwrap();
    let text = workflow(json!({
        "noise": { "type": "image.noise", "params": { "width": 32, "height": 16, "seed": 4 } },
        "blur": { "type": "image.blur", "inputs": { "image": "noise.image" } }
    }));
    let make = || disk_executor(&tmp.path().join("cache"));
    let first = run(&make(), &graph(&reg, &text), options(tmp.path()));
    let second_exec = make();
    let second = run(&second_exec, &graph(&reg, &text), options(tmp.path()));
    assert_eq!(second.count(NodeStatus::Cached), 2);
    assert_eq!(second_exec.cache().stats().disk_hits, 2);
    assert_eq!(first.value("blur", "image"), second.value("blur", "image"));
}

/// A small output packed on disk is held once: the pack answers it in place, in the same
/// executor and a fresh one, and memory keeps no second copy; a large one is kept in memory.
#[test]
fn small_outputs_packed_on_disk_are_not_held_in_memory_too() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let tmp = tempfile::tempdir().unwrap();
    let text = workflow(json!({
        "a": { "type": "test.instant", "params": { "salt": 2 } },
        "b": { "type": "test.step", "inputs": { "in": "a.out" } },
        "noise": { "type": "image.noise", "params": { "width": 128, "height": 128, "seed": 4 } }
    }));
    let make = || disk_executor(&tmp.path().join("cache"));
    let g = graph(&reg, &text);
    let exec = make();
    run(&exec, &g, options(tmp.path()));
    let image_bytes = 128 * 128 * 4 * 4;
    let held = exec.cache().stats().memory_bytes;
    assert!(held >= image_bytes && held < image_bytes + 1024, "only the image is in memory: {held} bytes");
    let again = run(&exec, &g, options(tmp.path()));
    assert_eq!(again.count(NodeStatus::Cached), 2, "all but the instant node");
    let stats = exec.cache().stats();
    assert_eq!((stats.memory_hits, stats.disk_hits), (1, 1), "the image from memory, the number from the pack");
    assert_eq!(stats.memory_bytes, held);
    let fresh = make();
    let third = run(&fresh, &g, options(tmp.path()));
    assert_eq!(third.count(NodeStatus::Cached), 2);
    assert_eq!(third.value("b", "out"), Some(&Value::Int(2)));
    assert_eq!((log.runs_of("a"), log.runs_of("b")), (3, 1));
}

#[test]
fn a_wired_param_out_of_range_fails_that_node_only() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let g = graph(
        &reg,
        &workflow(json!({
            "size": { "type": "value.int", "params": { "value": -5 } },
            "noise": { "type": "image.noise", "inputs": { "width": "size.value" } }
        })),
    );
    let tmp = tempfile::tempdir().unwrap();
    let report = run(&executor(2), &g, options(tmp.path()));
    let noise = report.node("noise").unwrap();
    assert_eq!(noise.status, NodeStatus::Failed);
    assert!(noise.error().unwrap().contains("wired param \"width\": -5 is out of range"), "{:?}", noise.error());
}

/// A sink sees each node from queued to its end; one made `without_queued` (the CLI's bars)
/// sees the same events less the queued ones.
#[test]
fn events_follow_each_node_from_queued_to_its_end() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let g = graph(
        &reg,
        &workflow(json!({
            "a": { "type": "test.source" },
            "b": { "type": "test.step", "inputs": { "in": "a.out" } }
        })),
    );
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let every = vec!["queued", "started", "finished"];
    let no_queued = vec!["started", "finished"];
    for (queued, want) in [(true, every), (false, no_queued)] {
        let exec = executor(2);
        let events: Vec<Event> = rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let mut opts = options(tmp.path());
            opts.events = if queued { EventSink::channel(tx) } else { EventSink::channel(tx).without_queued() };
            exec.run(&g, opts).await;
            let mut got = Vec::new();
            while let Ok(e) = rx.try_recv() {
                got.push(e);
            }
            got
        });
        let kinds_of = |id: &str| -> Vec<&'static str> {
            events
                .iter()
                .filter(|e| e.node.as_str() == id)
                .map(|e| match e.kind {
                    EventKind::Queued => "queued",
                    EventKind::Started => "started",
                    EventKind::Finished { .. } => "finished",
                    _ => "other",
                })
                .collect()
        };
        assert_eq!(kinds_of("a"), want, "queued wanted: {queued}");
        assert_eq!(kinds_of("b"), want, "queued wanted: {queued}");
        let pos = |id: &str, k: &str| {
            events.iter().position(|e| e.node.as_str() == id && format!("{:?}", e.kind).starts_with(k))
        };
        assert!(pos("a", "Finished") < pos("b", "Started"));
    }
}

/// Instant nodes run on the scheduler's thread without a task, a slot or a timer; everything
/// seen from outside is what any node gives: the same events, outputs, cache hits, failures
/// and fail-fast. They are never cached (an entry costs more than their work), yet a node
/// downstream of one is: their keys chain into its key as any node's do.
#[test]
fn instant_nodes_give_the_events_outputs_and_failures_of_any_node_and_are_never_cached() {
    let log = Arc::new(Log::default());
    let reg = probe_registry(&log);
    let g = graph(
        &reg,
        &workflow(json!({
            "a": { "type": "test.instant", "params": { "salt": 3 } },
            "b": { "type": "test.step", "inputs": { "in": "a.out" }, "params": { "salt": 1 } },
            "v": { "type": "value.int", "params": { "value": 7 } },
            "c": { "type": "test.instant", "inputs": { "in": ["v.value", "b.out"] } }
        })),
    );
    let tmp = tempfile::tempdir().unwrap();
    let exec = executor(2);
    let rt = runtime();
    let mut runs = Vec::new();
    for _ in 0..2 {
        runs.push(rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let mut opts = options(tmp.path());
            opts.events = EventSink::channel(tx);
            let report = exec.run(&g, opts).await;
            let mut events = Vec::new();
            while let Ok(e) = rx.try_recv() {
                events
                    .push((e.node.to_string(), format!("{:?}", e.kind).split([' ', '{']).next().unwrap().to_string()));
            }
            (report, events)
        }));
    }
    let kinds = |events: &[(String, String)], id: &str| -> Vec<String> {
        events.iter().filter(|(n, _)| n == id).map(|(_, k)| k.clone()).collect()
    };
    let (first, first_events) = &runs[0];
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(first.value("c", "out"), Some(&Value::Int(7 + 4)), "v (7) plus b (a's 3 plus 1)");
    for id in ["a", "c", "v"] {
        assert_eq!(kinds(first_events, id), ["Queued", "Started", "Finished"], "{id}");
        assert_eq!(first.node(id).unwrap().status, NodeStatus::Executed, "{id}");
    }
    let pos = |id: &str, k: &str| first_events.iter().position(|(n, e)| n == id && e == k);
    assert!(pos("a", "Finished") < pos("b", "Started") && pos("b", "Finished") < pos("c", "Started"));
    let (second, second_events) = &runs[1];
    for id in ["a", "c", "v"] {
        assert_eq!(kinds(second_events, id), ["Queued", "Started", "Finished"], "{id}");
        assert_eq!(second.node(id).unwrap().status, NodeStatus::Executed, "{id}");
    }
    assert_eq!(kinds(second_events, "b"), ["Queued", "Cached"]);
    assert_eq!(second.value("c", "out"), Some(&Value::Int(11)));
    assert_eq!((log.runs_of("a"), log.runs_of("b"), log.runs_of("c")), (2, 1, 2), "only b is cached");
    assert_eq!(exec.cache().stats().memory_hits, 1, "no lookup for an instant node");

    // A failing instant node fails alone, skips what needs it, and stops the run under fail-fast.
    let text = workflow(json!({
        "bad": { "type": "test.instant_fail" },
        "after": { "type": "test.instant", "inputs": { "in": "bad.out" } },
        "slow": { "type": "test.source", "params": { "ms": 50 } },
        "later": { "type": "test.step", "inputs": { "in": "slow.out" } }
    }));
    let g = graph(&reg, &text);
    let cases =
        [(false, NodeStatus::Skipped, NodeStatus::Executed), (true, NodeStatus::Cancelled, NodeStatus::Cancelled)];
    for (fail_fast, after, later) in cases {
        let config = ExecutorConfig { cpu_limit: 2, fail_fast, ..ExecutorConfig::default() };
        let exec = Executor::new(config, Arc::new(Cache::memory(1 << 20)));
        let report = run(&exec, &g, options(tmp.path()));
        assert_eq!(report.status, RunStatus::Failed);
        let bad = report.node("bad").unwrap();
        assert_eq!(bad.status, NodeStatus::Failed);
        assert!(bad.error().unwrap().contains("failed on purpose"), "{:?}", bad.error());
        assert_eq!(report.node("after").unwrap().status, after, "fail-fast {fail_fast}");
        assert_eq!(report.node("later").unwrap().status, later, "fail-fast {fail_fast}");
    }
}
