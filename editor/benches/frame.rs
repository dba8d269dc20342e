//! Frame time with a 500-node graph (20 chains of 25 nodes), headless, on this machine's CPU:
//! the UI pass (layout, widgets, the canvas), tessellation, and a whole rendered frame on the
//! wgpu adapter (lavapipe here: the CPU renderer), read back. Prints median and p95.
//!
//! `cargo bench -p switchyard-editor --bench frame`; with `-- --write-graph FILE` it writes the
//! graph instead, for `switchyard-editor FILE --frame-stats 10` in a real window.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use serde_json::json;
use switchyard_editor::{Editor, Launch};

const CHAINS: usize = 20;
const CHAIN_LEN: usize = 25;
const FRAMES: usize = 60;

fn graph() -> serde_json::Value {
    let (mut nodes, mut pos) = (serde_json::Map::new(), serde_json::Map::new());
    for c in 0..CHAINS {
        for i in 0..CHAIN_LEN {
            let key = format!("n{c}_{i}");
            let prev = format!("n{c}_{}.image", i.wrapping_sub(1));
            let node = match i {
                0 => json!({ "type": "image.noise", "params": { "width": 64, "height": 64, "seed": c } }),
                i if i == CHAIN_LEN - 1 => {
                    json!({ "type": "image.save", "params": { "path": format!("c{c}.png") }, "inputs": { "image": prev } })
                }
                i if i % 2 == 0 => {
                    json!({ "type": "image.adjust", "params": { "contrast": 1.1 }, "inputs": { "image": prev } })
                }
                _ => json!({ "type": "image.blur", "params": { "sigma": 1.0 }, "inputs": { "image": prev } }),
            };
            nodes.insert(key.clone(), node);
            pos.insert(key, json!({ "pos": [i * 340, c * 240] }));
        }
    }
    json!({ "format": "switchyard.workflow", "version": 1, "name": "500 nodes", "nodes": nodes, "ui": { "nodes": pos } })
}

fn stats(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    println!("{label:<44} median {:>7.2} ms   p95 {:>7.2} ms   ({} frames)", p(0.5), p(0.95), samples.len());
}

fn launch(dir: &std::path::Path) -> Launch {
    let file = dir.join("500.json");
    std::fs::write(&file, graph().to_string()).expect("the graph is written");
    Launch {
        registry: switchyard_nodes::builtin_registry(),
        catalog: switchyard_session::catalog::Catalog::builtin(),
        onnx: switchyard_nodes::onnx::OnnxSettings::from_env(),
        open: Some(file),
        out_dir: dir.join("out"),
        templates_dir: dir.to_path_buf(),
        wallet: None,
        recent_store: None,
        placement: switchyard_session::placement::PlacementOptions { at: Some("0".to_string()), ..Default::default() },
        inputs: Default::default(),
        server: None,
    }
}

/// One frame of the editor in a bare egui context (no accessibility tree, as in the window).
fn frame(ctx: &egui::Context, ed: &mut Editor, n: usize) -> egui::FullOutput {
    let mut input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0))),
        ..Default::default()
    };
    // Moving the pointer makes each frame a real one (hover tests over every widget).
    input.events.push(egui::Event::PointerMoved(egui::pos2(600.0 + (n % 7) as f32, 400.0)));
    ctx.run_ui(input, |ui| ed.ui(ui))
}

fn main() {
    // `-- --write-graph FILE` only writes the graph, for timing the real window on it.
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args.iter().position(|a| a == "--write-graph").and_then(|i| args.get(i + 1)) {
        std::fs::write(path, graph().to_string()).expect("the graph is written");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut ed = switchyard_editor::start(launch(dir.path()), || {}).expect("the editor starts");
    let ctx = egui::Context::default();
    let start = Instant::now();
    let mut n = 0;
    while ed.look.checked_rev != Some(ed.rev) && start.elapsed() < Duration::from_secs(60) {
        frame(&ctx, &mut ed, n);
        n += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let problems = ed.look.problems.len();
    println!(
        "{} nodes, {problems} problems; validated and quoted in the background in {:.0} ms",
        ed.current.nodes.len(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    for view in ["frame-all (every node on screen)", "zoomed in (a screenful of nodes)"] {
        if view.starts_with("zoomed") {
            zoom_to_100(&ctx, &mut ed);
        }
        for i in 0..5 {
            frame(&ctx, &mut ed, i);
        }
        let (mut ui, mut tess) = (Vec::new(), Vec::new());
        for i in 0..FRAMES {
            let t = Instant::now();
            let out = frame(&ctx, &mut ed, i);
            ui.push(t.elapsed());
            let t = Instant::now();
            let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
            tess.push(t.elapsed());
        }
        println!("view: {view}, zoom {:.0}%", ed.transform().scaling * 100.0);
        stats("  UI pass (layout, widgets, canvas)", ui);
        stats("  tessellation", tess);
    }
    rendered(dir.path());
}

/// Whole frames drawn by wgpu on this machine's adapter (lavapipe: the CPU renderer) and
/// read back, through egui_kittest's renderer.
fn rendered(dir: &std::path::Path) {
    let editor = switchyard_editor::start(launch(dir), || {}).expect("the editor starts");
    let mut h =
        Harness::builder().with_size([1280.0, 800.0]).wgpu().build_ui_state(|ui, ed: &mut Editor| ed.ui(ui), editor);
    h.run_steps(10);
    let mut full = Vec::new();
    for _ in 0..20 {
        h.step();
        let t = Instant::now();
        let _ = h.render();
        full.push(t.elapsed());
    }
    println!("view: frame-all, rendered");
    stats("  tessellation + wgpu render + readback", full);
}

/// Zooms in to at least 100%, as a user would with Ctrl and the wheel.
fn zoom_to_100(ctx: &egui::Context, ed: &mut Editor) {
    for _ in 0..200 {
        if ed.transform().scaling >= 0.999 {
            break;
        }
        let mut input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0))),
            ..Default::default()
        };
        input.events.push(egui::Event::PointerMoved(egui::pos2(700.0, 400.0)));
        input.events.push(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: egui::vec2(0.0, 1.0),
            modifiers: egui::Modifiers::COMMAND,
            phase: egui::TouchPhase::Move,
        });
        let _ = ctx.run_ui(input, |ui| ed.ui(ui));
    }
}
