//! `onnx.image` against Python onnxruntime on the same model and input, in the same run:
//! per-inference time with session creation excluded, plus the session-cache hit time.
//! Prints figures; Python's side is skipped (and said so) when its onnxruntime is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use switchyard_engine::{Image, NodeContext, ParamValue, PathRoots, Value};
use switchyard_nodes::onnx::OnnxSettings;

/// The same allocator as the `switchyard` binary, so figures match what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIDE: u32 = 512;
const RUNS: u32 = 20;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut reg = switchyard_engine::Registry::new();
    let settings = OnnxSettings { models_dir: root.join("models"), runtime: Default::default() };
    switchyard_nodes::register_builtins(&mut reg, settings).expect("registry");
    let node = reg.get("onnx.image").expect("onnx.image");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let px: Vec<f32> = (0..SIDE * SIDE)
        .flat_map(|i| [(i % 251) as f32 / 251.0, (i % 241) as f32 / 241.0, (i % 239) as f32 / 239.0, 1.0])
        .collect();
    let img = Image::new(SIDE, SIDE, px).expect("image");
    let run_once = |model: &str, tile: i64| {
        let params = vec![("model", ParamValue::Text(model.into())), ("tile", ParamValue::Int(tile))];
        let ctx = NodeContext::standalone(
            "bench",
            vec![("image", vec![Value::Image(img.clone())])],
            params,
            PathRoots::new(".", "."),
        );
        let started = Instant::now();
        rt.block_on(node.run(ctx)).expect("inference");
        started.elapsed()
    };
    for model in ["grade_teal_orange", "upscale2x"] {
        let first = run_once(model, 4096); // loads the session
        let rust = median((0..RUNS).map(|_| run_once(model, 4096)).collect());
        let tiled = median((0..RUNS).map(|_| run_once(model, 128)).collect());
        println!("{model} {SIDE}x{SIDE}: first run (session load) {:.1} ms", ms(first));
        println!("{model}: onnx.image node, one tile: median {:.2} ms over {RUNS} runs", ms(rust));
        println!("{model}: onnx.image node, 128-px tiles: median {:.2} ms", ms(tiled));
        println!(
            "{model}: raw ort session.run from Rust: median {:.2} ms",
            ms(raw_ort(&root.join("models").join(format!("{model}.onnx"))))
        );
        match python_medians(&root.join("models").join(format!("{model}.onnx")), model == "upscale2x") {
            Some((bare, pipeline)) => {
                println!(
                    "{model}: Python, the node's job in numpy (encode, run, decode): median {pipeline:.2} ms; ratio Python/node = {:.2}",
                    pipeline / ms(rust)
                );
                println!(
                    "{model}: Python, bare session.run on a ready tensor: median {bare:.2} ms; ratio Python/node = {:.2}",
                    bare / ms(rust)
                );
            }
            None => println!(
                "{model}: Python onnxruntime not installed; comparison skipped (pip install onnxruntime==1.31.1 numpy)"
            ),
        }
    }
    let hit = {
        let ctx = || {
            NodeContext::standalone(
                "bench",
                vec![("image", vec![Value::Image(Image::new(1, 1, vec![0.5; 4]).expect("px"))])],
                vec![("model", ParamValue::Text("grade_teal_orange".into())), ("tile", ParamValue::Int(0))],
                PathRoots::new(".", "."),
            )
        };
        median(
            (0..RUNS)
                .map(|_| {
                    let s = Instant::now();
                    rt.block_on(node.run(ctx())).expect("run");
                    s.elapsed()
                })
                .collect(),
        )
    };
    println!("session-cache hit (manifest check + cached session + a 1x1 inference): median {:.3} ms", ms(hit));
}

/// Plain `ort` on the same input, for telling ONNX Runtime's time from the node's own.
fn raw_ort(model: &std::path::Path) -> Duration {
    let rt = switchyard_nodes::onnx::runtime::load(&Default::default()).expect("runtime");
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut session = ort::session::Session::builder(&rt.environment)
        .expect("builder")
        .with_intra_threads(threads)
        .expect("threads")
        .commit_from_file(model)
        .expect("session");
    let n = (SIDE * SIDE) as usize;
    let data: Vec<f32> = (0..3)
        .flat_map(|c| {
            (0..n).map(move |i| [(i % 251) as f32 / 251.0, (i % 241) as f32 / 241.0, (i % 239) as f32 / 239.0][c])
        })
        .collect();
    let shape = [1usize, 3, SIDE as usize, SIDE as usize];
    let mut times = Vec::new();
    for _ in 0..=RUNS {
        let tensor = ort::value::Tensor::from_array((shape, data.clone())).expect("tensor");
        let started = Instant::now();
        let out = session.run(ort::inputs!["image" => tensor]).expect("run");
        times.push(started.elapsed());
        drop(out);
    }
    median(times)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Times Python onnxruntime on the same model and input, session creation excluded: the bare
/// `session.run` on a ready tensor, and the same job as the node written in numpy (linear
/// RGBA in, sRGB encode, NCHW, run, decode, RGBA out), as a Python tool would run it.
/// Returns (bare, pipeline) medians in ms.
fn python_medians(model: &std::path::Path, upscale: bool) -> Option<(f64, f64)> {
    let script = format!(
        r#"
import time, numpy as np, onnxruntime as ort
s = ort.InferenceSession({model:?}, providers=["CPUExecutionProvider"])
i = np.arange({n}, dtype=np.int64)
img = np.stack([(i % 251) / 251.0, (i % 241) / 241.0, (i % 239) / 239.0]).astype(np.float32).reshape(1, 3, {side}, {side})
rgba = np.concatenate([img[0].transpose(1, 2, 0), np.ones(({side}, {side}, 1), np.float32)], axis=2)
name = s.get_inputs()[0].name
def node(px):
    v = np.clip(px[..., :3], 0.0, 1.0)
    enc = np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32)
    out = s.run(None, {{name: np.ascontiguousarray(enc.transpose(2, 0, 1)[None])}})[0][0]
    out = np.clip(out, 0.0, 1.0)
    lin = np.where(out <= 0.04045, out / 12.92, np.power((out + 0.055) / 1.055, 2.4)).astype(np.float32)
    alpha = np.repeat(np.repeat(px[..., 3:], {f}, 0), {f}, 1)
    return np.concatenate([lin.transpose(1, 2, 0), alpha], axis=2)
s.run(None, {{name: img}}); node(rgba)
def median(f):
    t = []
    for _ in range({runs}):
        a = time.perf_counter(); f(); t.append((time.perf_counter() - a) * 1000)
    return sorted(t)[len(t) // 2]
print(median(lambda: s.run(None, {{name: img}})), median(lambda: node(rgba)))
"#,
        model = model.to_string_lossy(),
        n = SIDE * SIDE,
        side = SIDE,
        runs = RUNS,
        f = if upscale { 2 } else { 1 },
    );
    let out = Command::new("python3").args(["-c", &script]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some((it.next()?.ok()?, it.next()?.ok()?))
}
