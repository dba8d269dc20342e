//! Test nodes and helpers: a registry of probes that record when they run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_engine::cache::{Cache, DiskCache};
use switchyard_engine::{
    CompileOptions, Executor, ExecutorConfig, Graph, Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs,
    ParamKind, ParamSpec, ParamValue, PathRoots, PortType, Registry, RunOptions, RunReport, Value, load_workflow,
};

/// What the probes saw: how many ran at once, and the order of starts and ends.
#[derive(Default)]
pub struct Log {
    running: AtomicUsize,
    pub max_running: AtomicUsize,
    pub order: Mutex<Vec<(String, &'static str)>>,
    pub runs: Mutex<HashMap<String, usize>>,
}

impl Log {
    fn start(&self, id: &str) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.order.lock().unwrap().push((id.to_string(), "start"));
        *self.runs.lock().unwrap().entry(id.to_string()).or_default() += 1;
    }

    fn end(&self, id: &str) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.order.lock().unwrap().push((id.to_string(), "end"));
    }

    /// How many times a node ran.
    pub fn runs_of(&self, id: &str) -> usize {
        self.runs.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

#[derive(Clone, Copy)]
enum Behaviour {
    /// Sleeps `ms`, then outputs the sum of its inputs plus `salt`.
    Step,
    /// Panics inside its future.
    Panic,
    /// Panics inside blocking work.
    PanicBlocking,
    /// Returns an error.
    Fail,
    /// Outputs a fresh number each run.
    Random,
    /// Ignores cancellation and sleeps `ms` on a blocking thread.
    Stubborn,
}

struct Probe {
    spec: NodeSpec,
    behaviour: Behaviour,
    log: Arc<Log>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Node for Probe {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let (log, behaviour) = (Arc::clone(&self.log), self.behaviour);
        if let Behaviour::Stubborn = behaviour {
            // Blocking work that ignores cancellation, run the way real CPU nodes run.
            let ms = ctx.int("ms").unwrap_or(0) as u64;
            return switchyard_engine::run_blocking(ctx, move |_| {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(Outputs::new().with("out", Value::Int(0)))
            });
        }
        Box::pin(async move {
            let id = ctx.node_id().to_string();
            log.start(&id);
            let result = behave(behaviour, &ctx).await;
            log.end(&id);
            result
        })
    }

    /// Instant probes (`test.instant*`): the same behaviour, done at once (no sleep).
    fn run_now(&self, ctx: &NodeContext) -> Result<Outputs, NodeError> {
        let id = ctx.node_id().to_string();
        self.log.start(&id);
        let result = match self.behaviour {
            Behaviour::Panic => panic!("instant probe exploded"),
            Behaviour::Fail => Err(NodeError::Failed("instant probe failed on purpose".into())),
            _ => step(ctx),
        };
        self.log.end(&id);
        result
    }
}

/// A step's output: the sum of its inputs plus `salt`.
fn step(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let sum: i64 = ctx.inputs("in").iter().map(|v| if let Value::Int(n) = v { *n } else { 0 }).sum();
    Ok(Outputs::new().with("out", Value::Int(sum + ctx.int("salt")?)))
}

async fn behave(behaviour: Behaviour, ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let ms = ctx.int("ms").unwrap_or(0) as u64;
    match behaviour {
        Behaviour::Step => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                _ = ctx.cancellation().cancelled() => return Err(NodeError::Cancelled),
            }
            step(ctx)
        }
        Behaviour::Panic => panic!("probe exploded"),
        Behaviour::PanicBlocking => {
            tokio::task::spawn_blocking(|| panic!("blocking probe exploded"))
                .await
                .map_err(|e| NodeError::Panicked(switchyard_engine::panic_message(e.into_panic())))?;
            unreachable!()
        }
        Behaviour::Fail => Err(NodeError::Failed("probe failed on purpose".into())),
        Behaviour::Random => Ok(Outputs::new().with("out", Value::Int(COUNTER.fetch_add(1, Ordering::SeqCst) as i64))),
        Behaviour::Stubborn => unreachable!("handled in run"),
    }
}

fn probe_spec(name: &'static str) -> NodeSpec {
    let mut spec = NodeSpec::new(name, "test", "A probe for tests")
        .list_input("in", PortType::Int, 64, "Upstream values")
        .output("out", PortType::Int, "A value")
        .param(ParamSpec::new("ms", ParamKind::Int { min: 0, max: 60_000 }, ParamValue::Int(0), "Sleep"))
        .param(ParamSpec::new(
            "salt",
            ParamKind::Int { min: -1000, max: 1000 },
            ParamValue::Int(0),
            "Added to the output",
        ));
    spec.inputs[0].optional = true;
    spec
}

/// A registry with the built-in nodes and the probes `test.step`, `test.source`, `test.panic`,
/// `test.panic_blocking`, `test.fail`, `test.random`, `test.stubborn`, `test.accel` (a
/// local-accelerator step) and the instant `test.instant`, `test.instant_panic` and
/// `test.instant_fail`, all logging to `log`.
pub fn probe_registry(log: &Arc<Log>) -> Registry {
    let mut r = switchyard_nodes::builtin_registry();
    let mut add = |name: &'static str, behaviour: Behaviour, spec_fn: fn(&'static str) -> NodeSpec| {
        r.register(Probe { spec: spec_fn(name), behaviour, log: Arc::clone(log) }).unwrap();
    };
    add("test.step", Behaviour::Step, probe_spec);
    add("test.source", Behaviour::Step, |n| {
        let mut s = probe_spec(n);
        s.inputs.clear();
        s
    });
    add("test.panic", Behaviour::Panic, probe_spec);
    add("test.panic_blocking", Behaviour::PanicBlocking, probe_spec);
    add("test.fail", Behaviour::Fail, probe_spec);
    add("test.random", Behaviour::Random, |n| probe_spec(n).nondeterministic());
    add("test.stubborn", Behaviour::Stubborn, probe_spec);
    add("test.accel", Behaviour::Step, |n| probe_spec(n).resource(switchyard_engine::ResourceClass::LocalAccelerator));
    add("test.instant", Behaviour::Step, |n| probe_spec(n).instant());
    add("test.instant_panic", Behaviour::Panic, |n| probe_spec(n).instant());
    add("test.instant_fail", Behaviour::Fail, |n| probe_spec(n).instant());
    r
}

/// Wraps `nodes` (a JSON object) into a workflow file's text.
pub fn workflow(nodes: serde_json::Value) -> String {
    serde_json::json!({ "format": "switchyard.workflow", "version": 1, "name": "test", "nodes": nodes }).to_string()
}

/// Compiles a workflow, panicking with the diagnostics if it is invalid.
pub fn graph(registry: &Registry, text: &str) -> Graph {
    match load_workflow(text, registry, &[], &CompileOptions::default()) {
        Ok((_, g)) => g,
        Err(d) => panic!("invalid test workflow:\n{d}"),
    }
}

/// An executor with a memory cache and the given CPU limit.
pub fn executor(cpu_limit: usize) -> Executor {
    let config = ExecutorConfig { cpu_limit, ..ExecutorConfig::default() };
    Executor::new(config, Arc::new(Cache::memory(256 << 20)))
}

/// An executor with a memory cache and a disk cache in `dir` (64 MiB each): a second one
/// on the same folder sees what the first wrote.
pub fn disk_executor(dir: &Path) -> Executor {
    let disk = DiskCache::open(dir.to_path_buf(), 64 << 20).unwrap();
    Executor::new(ExecutorConfig::default(), Arc::new(Cache::with_disk(64 << 20, disk)))
}

/// Run options writing into `out`, keeping outputs for inspection.
pub fn options(out: &Path) -> RunOptions {
    let mut o = RunOptions::new(PathRoots::new(out, out));
    o.keep_outputs = true;
    o
}

/// Runs `graph` on a fresh runtime.
pub fn run(exec: &Executor, graph: &Graph, opts: RunOptions) -> RunReport {
    runtime().block_on(exec.run(graph, opts))
}

/// A multi-threaded runtime like the CLI's.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The workflow files in `tests/fixtures/<dir>`, sorted: every `.json` but the `.expected.json`.
pub fn fixture_workflows(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".json") && !name.ends_with(".expected.json")
        })
        .collect();
    files.sort();
    files
}
