//! The harness: the real editor and backend, headless, with helpers that act as a user does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_snarl::NodeId;
use switchyard_editor::canvas::pins::Side;
use switchyard_editor::shell::file_actions as files;
use switchyard_editor::{Editor, Launch};

/// Quotes are taken at this time (a Wednesday, 10:00 UTC: no surge window), so badges hold still.
pub const QUOTE_AT: i64 = 1_763_546_400;

pub fn launch(out: &Path) -> Launch {
    Launch {
        registry: switchyard_nodes::builtin_registry(),
        catalog: switchyard_session::catalog::Catalog::builtin(),
        onnx: switchyard_nodes::onnx::OnnxSettings::from_env(),
        open: None,
        out_dir: out.to_path_buf(),
        templates_dir: workflows(),
        wallet: None,
        recent_store: Some(out.join("recent.json")),
        placement: switchyard_session::placement::PlacementOptions {
            at: Some(QUOTE_AT.to_string()),
            ..Default::default()
        },
        inputs: Default::default(),
        server: None,
    }
}

pub fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn harness(out: &Path) -> Harness<'static, Editor> {
    let editor = switchyard_editor::start(launch(out), || {}).expect("the backend starts");
    Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, ed: &mut Editor| ed.ui(ui), editor)
}

pub fn opened(out: &Path, file: &Path) -> Harness<'static, Editor> {
    let mut h = harness(out);
    open_file(&mut h, file);
    h
}

/// Opens `file` and waits for its first check.
pub fn open_file(h: &mut Harness<'static, Editor>, file: &Path) {
    files::open(h.state_mut(), file, false);
    settle(h, |ed| ed.look.checked_rev == Some(ed.rev));
}

/// Steps frames until `done` holds (backend replies arrive between frames), for up to 20 s.
pub fn settle(h: &mut Harness<'static, Editor>, done: impl Fn(&Editor) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        let ed = h.state();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the editor did not settle; status: {}; rev {}, checked {:?}, running {}",
            ed.status,
            ed.rev,
            ed.look.checked_rev,
            ed.running
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

pub fn node(ed: &Editor, key: &str) -> NodeId {
    ed.doc.find(key).unwrap_or_else(|| panic!("no node {key}"))
}

/// Drags a wire from an output pin to an input pin, as a mouse does.
pub fn drag_wire(h: &mut Harness<'static, Editor>, from: (&str, usize), to: (&str, usize)) {
    drag_wire_near(h, from, to, egui::Vec2::ZERO);
}

/// Drags a wire from an output pin and drops it `miss` (screen points) away from an input pin.
pub fn drag_wire_near(h: &mut Harness<'static, Editor>, from: (&str, usize), to: (&str, usize), miss: egui::Vec2) {
    let ed = h.state();
    let at = |key: &str, side, i| {
        let rect = ed.pins.get(node(ed, key), side, i).expect("the pin was drawn");
        ed.transform() * rect.center()
    };
    let (a, b) = (at(from.0, Side::Out, from.1), at(to.0, Side::In, to.1) + miss);
    drag(h, a, b, false);
}

/// Drags from `a` to `b` (screen space) and lets go; with `stay`, the pointer stays there as
/// a mouse's does (kittest's `drop_at` also takes the pointer away, which closes menus).
pub fn drag(h: &mut Harness<'static, Editor>, a: egui::Pos2, b: egui::Pos2, stay: bool) {
    h.hover_at(a);
    h.step();
    h.drag_at(a);
    h.step();
    for t in [0.1, 0.5, 0.9, 1.0] {
        h.hover_at(a + (b - a) * t);
        h.step();
    }
    match stay {
        true => {
            let (button, modifiers) = (egui::PointerButton::Primary, egui::Modifiers::NONE);
            h.event(egui::Event::PointerButton { pos: b, button, pressed: false, modifiers });
        }
        false => h.drop_at(b),
    }
    h.run_steps(3);
}

/// The quote API's answer for `file` under `policy`, as `switchyard quote` computes it.
pub fn quote_of(file: &switchyard_engine::format::WorkflowFile, policy: &str) -> switchyard_editor::work::GraphQuote {
    let dir = tempfile::tempdir().unwrap();
    let l = launch(dir.path());
    let settings = switchyard_editor::work::Settings {
        registry: l.registry,
        catalog: std::sync::Arc::new(l.catalog),
        onnx: l.onnx,
        out_dir: l.out_dir,
        wallet: None,
        local_fits: Default::default(),
        placement: l.placement,
        inputs: l.inputs,
    };
    let check = switchyard_editor::work::Check {
        rev: 0,
        file: file.clone(),
        input_root: workflows(),
        policy: policy.into(),
        budget: None,
        deadline: None,
        routes: Vec::new(),
    };
    switchyard_editor::work::quote::quote(&settings, &check).quote.unwrap().unwrap()
}

/// Clicks a node's header with `button` while holding `modifiers`: Shift+click selects,
/// a right click opens the node's menu.
pub fn click_header(
    h: &mut Harness<'static, Editor>,
    key: &str,
    button: egui::PointerButton,
    modifiers: egui::Modifiers,
) {
    let ed = h.state();
    let rect = ed.rects[&node(ed, key)];
    let pos = ed.transform() * (rect.left_top() + egui::vec2(rect.width() * 0.7, 12.0));
    h.hover_at(pos);
    h.step();
    for pressed in [true, false] {
        h.event_modifiers(egui::Event::PointerButton { pos, button, pressed, modifiers }, modifiers);
        h.step();
    }
    h.run_steps(2);
}
