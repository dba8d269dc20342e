//! Engine benchmarks: parse and validate a 10,000-node graph; executor overhead per trivial
//! node on chains and a wide graph; a cached re-run with one leaf changed. Ends by printing
//! the process's peak resident memory.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use switchyard_engine::cache::Cache;
use switchyard_engine::{
    CompileOptions, Executor, ExecutorConfig, Graph, Node, NodeContext, NodeFuture, NodeSpec, Outputs, ParamKind,
    ParamSpec, ParamValue, PathRoots, PortType, Registry, RunOptions, RunStatus, Value, compile_text, load_workflow,
};

/// The same allocator as the `switchyard` binary, so figures match what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A trivial node: sums its inputs and adds `salt`, on the scheduler's own task.
struct Pass(NodeSpec);

impl Node for Pass {
    fn spec(&self) -> &NodeSpec {
        &self.0
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let sum: i64 = ctx.inputs("in").iter().map(|v| if let Value::Int(n) = v { *n } else { 0 }).sum();
        let salt = ctx.int("salt").unwrap_or(0);
        Box::pin(std::future::ready(Ok(Outputs::new().with("out", Value::Int(sum.wrapping_add(salt))))))
    }
}

fn registry() -> Registry {
    let mut spec = NodeSpec::new("bench.pass", "bench", "trivial")
        .list_input("in", PortType::Int, 8, "inputs")
        .output("out", PortType::Int, "sum")
        .param(ParamSpec::new("salt", ParamKind::Int { min: i64::MIN, max: i64::MAX }, ParamValue::Int(0), "salt"))
        .param(ParamSpec::new(
            "label",
            ParamKind::Text { multiline: false, max_len: 64 },
            ParamValue::Text("".into()),
            "label",
        ));
    spec.inputs[0].optional = true;
    let mut r = Registry::new();
    r.register(Pass(spec)).expect("one registration");
    r
}

/// `n` nodes; node i takes inputs from the nodes `i - k` for each k in `back` that exists.
fn workflow(n: usize, back: &[usize], leaf_salt: i64) -> String {
    let mut nodes = serde_json::Map::new();
    for i in 0..n {
        let wires: Vec<String> = back.iter().filter(|&&k| k <= i && k > 0).map(|k| format!("n{}.out", i - k)).collect();
        let salt = if i == n - 1 { leaf_salt } else { i as i64 };
        let mut entry =
            serde_json::json!({ "type": "bench.pass", "params": { "salt": salt, "label": format!("node {i}") } });
        if !wires.is_empty() {
            entry["inputs"] = serde_json::json!({ "in": wires });
        }
        nodes.insert(format!("n{i}"), entry);
    }
    serde_json::json!({ "format": "switchyard.workflow", "version": 1, "name": "bench", "nodes": nodes }).to_string()
}

fn compile(reg: &Registry, text: &str) -> Graph {
    match load_workflow(text, reg, &[], &CompileOptions::default()) {
        Ok((_, g)) => g,
        Err(d) => panic!("{d}"),
    }
}

fn executor() -> Executor {
    Executor::new(ExecutorConfig::default(), Arc::new(Cache::memory(1 << 30)))
}

fn options() -> RunOptions {
    RunOptions::new(PathRoots::new(".", "target/bench-out"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn parse_and_validate(c: &mut Criterion) {
    let reg = registry();
    let text = workflow(10_000, &[1, 7], 0);
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(10_000));
    // Dropping the result is not part of validating it.
    g.bench_function("parse_and_validate_10k_nodes", |b| b.iter_with_large_drop(|| compile(&reg, black_box(&text))));
    // The path the CLI and the server take: two streaming passes, no parse tree kept.
    let streamed = |text: &str| compile_text(text, &reg, &[], &CompileOptions::default()).expect("valid");
    g.bench_function("compile_text_10k_nodes", |b| b.iter_with_large_drop(|| streamed(black_box(&text))));
    g.finish();
}

/// Uncached runs: a fresh executor (and cache) per iteration, so every node executes.
fn executor_overhead(c: &mut Criterion) {
    let reg = registry();
    let rt = runtime();
    let mut g = c.benchmark_group("executor");
    g.sample_size(20);
    for (name, n, back) in [("chain_1k", 1_000, vec![1]), ("chain_10k", 10_000, vec![1]), ("wide_10k", 10_000, vec![])]
    {
        let graph = compile(&reg, &workflow(n, &back, 0));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let exec = executor();
                    let start = Instant::now();
                    let report = rt.block_on(exec.run(&graph, options()));
                    total += start.elapsed();
                    assert_eq!(report.status, RunStatus::Succeeded);
                }
                total
            })
        });
    }
    g.finish();
}

/// A warm cache, then a run where one leaf's param changed: 999 cache hits and one execution.
fn cached_rerun(c: &mut Criterion) {
    let reg = registry();
    let rt = runtime();
    let exec = executor();
    rt.block_on(exec.run(&compile(&reg, &workflow(1_000, &[1, 7], 0)), options()));
    let mut salt = 1;
    let mut g = c.benchmark_group("cache");
    g.sample_size(30);
    g.bench_function("rerun_1k_one_leaf_changed", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                salt += 1;
                let graph = compile(&reg, &workflow(1_000, &[1, 7], salt));
                let start = Instant::now();
                let report = rt.block_on(exec.run(&graph, options()));
                total += start.elapsed();
                assert_eq!(report.count(switchyard_engine::NodeStatus::Executed), 1);
            }
            total
        })
    });
    g.finish();
}

fn peak_memory(_: &mut Criterion) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!("peak resident memory of the bench process: {}", line.trim_start_matches("VmHWM:").trim());
    }
}

criterion_group!(benches, parse_and_validate, executor_overhead, cached_rerun, peak_memory);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
