//! Built-in image nodes through the executor: file round trips, limits, counters and clear errors.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use switchyard_engine::{NodeStatus, RunStatus, Value};

use crate::support::{Log, executor, graph, options, probe_registry, run, workflow};

fn run_in(dir: &Path, nodes: serde_json::Value) -> switchyard_engine::RunReport {
    let reg = probe_registry(&Arc::new(Log::default()));
    let g = graph(&reg, &workflow(nodes));
    run(&executor(2), &g, options(dir))
}

#[test]
fn png_round_trip_is_exact_in_8_bit_srgb() {
    let tmp = tempfile::tempdir().unwrap();
    let mut src = image::RgbaImage::new(3, 2);
    for (i, p) in src.pixels_mut().enumerate() {
        *p = image::Rgba([i as u8 * 40, 255 - i as u8 * 30, 7, 100 + i as u8 * 20]);
    }
    src.save(tmp.path().join("in.png")).unwrap();
    let report = run_in(
        tmp.path(),
        json!({
            "load": { "type": "image.load", "params": { "path": "in.png" } },
            "save": { "type": "image.save", "params": { "path": "out.png" }, "inputs": { "image": "load.image" } }
        }),
    );
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(image::open(tmp.path().join("out.png")).unwrap().to_rgba8(), src);
}

#[test]
fn exr_keeps_linear_floats_above_one() {
    let tmp = tempfile::tempdir().unwrap();
    let report = run_in(
        tmp.path(),
        json!({
            "noise": { "type": "image.noise", "params": { "width": 8, "height": 4 } },
            "hot": { "type": "image.adjust", "params": { "brightness": 1.0 }, "inputs": { "image": "noise.image" } },
            "save": { "type": "image.save", "params": { "path": "hot.exr" }, "inputs": { "image": "hot.image" } }
        }),
    );
    assert_eq!(report.status, RunStatus::Succeeded);
    let Some(Value::Image(hot)) = report.value("hot", "image") else { panic!("no image") };
    let back = image::open(tmp.path().join("hot.exr")).unwrap().into_rgba32f();
    assert!(back.as_raw().iter().zip(hot.pixels().iter()).all(|(a, b)| (a - b).abs() < 1e-6));
    assert!(back.as_raw()[0] > 1.0);
}

/// A PNG whose header claims `w` x `h` pixels, with one tiny data chunk: a decompression bomb's shape.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn a_decompression_bomb_is_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bomb.png"), png_claiming(100_000, 100_000)).unwrap();
    let report = run_in(tmp.path(), json!({ "load": { "type": "image.load", "params": { "path": "bomb.png" } } }));
    let load = report.node("load").unwrap();
    assert_eq!(load.status, NodeStatus::Failed);
    assert!(load.error().unwrap().contains("cannot decode"), "{:?}", load.error());
}

#[test]
fn the_n_counter_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let nodes = json!({
        "noise": { "type": "image.noise", "params": { "width": 4, "height": 4 } },
        "save": { "type": "image.save", "params": { "path": "shots/shot_{n}.png" }, "inputs": { "image": "noise.image" } }
    });
    run_in(tmp.path(), nodes.clone());
    let second = run_in(tmp.path(), nodes);
    assert!(second.files().next().unwrap().ends_with("shots/shot_0002.png"));
    assert!(tmp.path().join("shots/shot_0001.png").exists());
}

#[test]
fn a_crop_outside_the_image_fails_with_the_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let report = run_in(
        tmp.path(),
        json!({
            "noise": { "type": "image.noise", "params": { "width": 64, "height": 32 } },
            "crop": { "type": "image.crop", "params": { "x": 40, "width": 32, "height": 8 }, "inputs": { "image": "noise.image" } }
        }),
    );
    let crop = report.node("crop").unwrap();
    assert_eq!(crop.status, NodeStatus::Failed);
    assert_eq!(
        crop.error(),
        Some("the crop 32x8 at (40, 0) does not fit the 64x32 image; shrink it or move it inside")
    );
}

#[test]
fn an_oversized_image_request_fails_without_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let report = run_in(
        tmp.path(),
        json!({
            "noise": { "type": "image.noise", "params": { "width": 16384, "height": 16384 } }
        }),
    );
    let noise = report.node("noise").unwrap();
    assert_eq!(noise.status, NodeStatus::Failed);
    assert!(noise.error().unwrap().contains("40000000 pixels"), "{:?}", noise.error());
}

/// Large outputs travel as half floats; saving one must give the PNG its `f32` twin gives,
/// within the one 8-bit code that half precision can move a value across a rounding edge.
#[test]
fn a_half_float_image_saves_like_its_f32_twin() {
    use switchyard_engine::{Image, NodeContext, ParamValue, PathRoots};
    let tmp = tempfile::tempdir().unwrap();
    let reg = switchyard_nodes::builtin_registry();
    let save = reg.get("image.save").unwrap();
    let values: Vec<f32> = (0..64 * 32).flat_map(|i| [i as f32 / 2048.0, 0.5, 0.02, (i % 7) as f32 / 6.0]).collect();
    let twins = [
        Image::new(64, 32, values.clone()).unwrap(),
        Image::from_half(64, 32, values.iter().map(|v| half::f16::from_f32(*v)).collect()).unwrap(),
    ];
    let mut decoded = Vec::new();
    for (name, img) in ["full.png", "half.png"].iter().zip(twins) {
        let ctx = NodeContext::standalone(
            "save",
            vec![("image", vec![Value::Image(img)])],
            vec![
                ("path", ParamValue::Text((*name).into())),
                ("format", ParamValue::Text("auto".into())),
                ("quality", ParamValue::Int(90)),
                ("compression", ParamValue::Text("fast".into())),
            ],
            PathRoots::new(tmp.path(), tmp.path()),
        );
        crate::support::runtime().block_on(save.run(ctx)).unwrap();
        decoded.push(image::open(tmp.path().join(name)).unwrap().to_rgba8().into_raw());
    }
    let off: Vec<i16> = decoded[0].iter().zip(&decoded[1]).map(|(a, b)| i16::from(*a) - i16::from(*b)).collect();
    assert!(off.iter().all(|d| d.abs() <= 1), "at most one code apart");
    assert!(off.iter().filter(|d| **d != 0).count() < off.len() / 10, "most codes equal");
}
