//! Runs from the editor: node states, previews, cancel, and the budget flag.

use egui_kittest::kittest::Queryable;
use switchyard_editor::look::NodeRun;

use crate::support::{fixture, opened, settle};

#[test]
fn a_small_local_run_ends_with_every_node_done_and_a_preview() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    h.get_by_label("▶ Run").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    let ed = h.state();
    for key in ["noise", "soft", "save"] {
        assert!(matches!(ed.look.run_of(key), Some(NodeRun::Done(_))), "{key}: {:?}", ed.look.run_of(key));
    }
    assert_eq!(ed.look.previews.get("soft").map(|p| p.1), Some([96, 64]));
    assert!(out.path().join("soft.png").is_file(), "the save node wrote under the output folder");
    assert!(ed.status.starts_with("run finished"), "{}", ed.status);
    h.get_by_label("preview of soft");
}

#[test]
fn cancel_stops_a_run_and_marks_what_never_ran() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("slow-local.json"));
    h.get_by_label("▶ Run").click();
    settle(&mut h, |ed| matches!(ed.look.run_of("noise"), Some(NodeRun::Running(_))));
    h.get_by_label("■ Cancel").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    let ed = h.state();
    assert!(ed.status.starts_with("run cancelled"), "{}", ed.status);
    assert_eq!(ed.look.run_of("save"), Some(&NodeRun::Cancelled));
    assert!(!out.path().join("slow.png").exists(), "nothing after the cancel ran");
}

#[test]
fn a_quote_over_the_budget_is_flagged_and_the_run_does_not_start() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &crate::support::workflows().join("cloud-draft.json"));
    let most = h.state().look.quote.clone().unwrap().unwrap().credits.1;
    assert!(most > 1, "the pinned OpenAI image costs credits");
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "budget").focus();
    h.step();
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "budget").type_text("1");
    h.run_steps(3);
    let flag = format!("⚠ over budget: up to {most} cr against a budget of 1 cr");
    h.get_by_label(&flag);
    h.get_by_label("▶ Run").click();
    h.run_steps(3);
    assert!(!h.state().running && h.state().look.runs.is_empty(), "nothing ran");
}
