//! Headless pictures of the editor, rendered by wgpu (lavapipe on a machine without a GPU)
//! and compared with the committed PNGs under `tests/snapshots/`. `UPDATE_SNAPSHOTS=1`
//! rewrites them.

use egui_kittest::Harness;
use switchyard_editor::Editor;

use crate::support::{launch, settle, workflows};

#[test]
fn a_template_with_its_badges_and_total() {
    let out = tempfile::tempdir().unwrap();
    let editor = switchyard_editor::start(launch(out.path()), || {}).unwrap();
    let mut h =
        Harness::builder().with_size([1280.0, 720.0]).wgpu().build_ui_state(|ui, ed: &mut Editor| ed.ui(ui), editor);
    switchyard_editor::shell::file_actions::open(h.state_mut(), &workflows().join("hybrid-upscale.json"), false);
    settle(&mut h, |ed| ed.look.checked_rev == Some(ed.rev) && ed.look.quote.is_some());
    h.state_mut().status = "hybrid-upscale.json".into();
    // Frame the graph again now that the badges are drawn: the quote arrives from the
    // background thread, sometimes after the first frame-all, and badges change node heights.
    h.state_mut().frame_all();
    h.run_steps(4);
    let quote = h.state().look.quote.clone().unwrap().unwrap();
    assert_eq!(quote.nodes["draft"].placement, "local:upscale2x", "the 2x draft runs here for free");
    assert!(quote.nodes["final"].credits.1 > 0, "the 4x final is paid");
    h.snapshot("hybrid_upscale_badges");
}
