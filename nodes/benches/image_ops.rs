//! Image node throughput on a 1920x1080 frame: noise, blur, resize, adjust, blend and PNG save.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchyard_engine::{NodeContext, ParamValue, PathRoots, Registry, Value};

fn run(
    reg: &Registry,
    rt: &tokio::runtime::Runtime,
    ty: &str,
    inputs: Vec<(&'static str, Vec<Value>)>,
    params: &[(&'static str, ParamValue)],
    out: &std::path::Path,
) -> Option<Value> {
    let node = reg.get(ty).expect("registered");
    let mut all = Vec::new();
    for p in &node.spec().params {
        let v = params.iter().find(|(n, _)| *n == p.name).map(|(_, v)| v.clone()).or_else(|| p.default.clone());
        all.push((p.name, v.expect("param")));
    }
    let ctx = NodeContext::standalone("bench", inputs, all, PathRoots::new(out, out));
    let outputs = rt.block_on(node.run(ctx)).expect("node ran");
    outputs.get("image").cloned()
}

fn image_ops(c: &mut Criterion) {
    let reg = switchyard_nodes::builtin_registry();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let tmp = tempfile::tempdir().expect("tempdir");
    let hd = [("width", ParamValue::Int(1920)), ("height", ParamValue::Int(1080))];
    let frame = run(&reg, &rt, "image.noise", vec![], &hd, tmp.path()).expect("noise image");
    let img = |v: &Value| vec![("image", vec![v.clone()])];
    let mut g = c.benchmark_group("image_1080p");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1920 * 1080));
    g.bench_function("noise_4_octaves", |b| b.iter(|| run(&reg, &rt, "image.noise", vec![], &hd, tmp.path())));
    g.bench_function("blur_sigma_2", |b| {
        b.iter(|| run(&reg, &rt, "image.blur", img(black_box(&frame)), &[], tmp.path()))
    });
    g.bench_function("blur_sigma_10", |b| {
        b.iter(|| run(&reg, &rt, "image.blur", img(&frame), &[("sigma", ParamValue::Float(10.0))], tmp.path()))
    });
    g.bench_function("resize_to_256_lanczos", |b| {
        b.iter(|| run(&reg, &rt, "image.resize", img(&frame), &[("width", ParamValue::Int(256))], tmp.path()))
    });
    g.bench_function("adjust", |b| {
        b.iter(|| run(&reg, &rt, "image.adjust", img(&frame), &[("contrast", ParamValue::Float(1.2))], tmp.path()))
    });
    g.bench_function("blend_overlay", |b| {
        let inputs = || vec![("base", vec![frame.clone()]), ("top", vec![frame.clone()])];
        b.iter(|| run(&reg, &rt, "image.blend", inputs(), &[("mode", ParamValue::Text("overlay".into()))], tmp.path()))
    });
    g.bench_function("save_png", |b| {
        b.iter(|| {
            run(&reg, &rt, "image.save", img(&frame), &[("path", ParamValue::Text("bench.png".into()))], tmp.path())
        })
    });
    g.finish();
}

criterion_group!(benches, image_ops);
criterion_main!(benches);
