//! Building a graph: the palette, wires, params, undo and redo.

use egui::Modifiers;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use switchyard_editor::Editor;

use crate::support::{click_header, drag_wire, fixture, harness, node, opened};

#[test]
fn the_palette_adds_nodes_by_type_and_search_narrows_it() {
    let out = tempfile::tempdir().unwrap();
    let mut h = harness(out.path());
    h.get_by_label("image.noise").click();
    h.run_steps(2);
    h.get_by_label("image.blur").click();
    h.run_steps(2);
    let keys: Vec<String> = h.state().doc.snarl.nodes().map(|n| n.key.clone()).collect();
    assert_eq!(keys, ["noise", "blur"]);
    h.get_by_label("added blur");
    h.get_by_role_and_label(Role::TextInput, "Find").focus();
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Find").type_text("upscale");
    h.run_steps(2);
    let button = |h: &Harness<'static, Editor>, label: &str| h.query_by_role_and_label(Role::Button, label).is_some();
    assert!(!button(&h, "image.noise"), "the search hides what does not match");
    assert!(button(&h, "cloud.upscale"), "and keeps what does");
}

#[test]
fn wires_connect_by_drag_and_a_wrong_type_is_refused_with_the_reason_on_hover() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("unwired.json"));
    drag_wire(&mut h, ("noise", 0), ("blur", 0));
    let wires: Vec<_> = h.state().doc.snarl.wires().collect();
    assert_eq!(wires.len(), 1, "noise.image feeds blur.image");
    drag_wire(&mut h, ("mask", 0), ("blur", 0));
    assert_eq!(h.state().doc.snarl.wires().count(), 1, "a mask cannot feed an image input");
    let reason = &h.state().refusal.as_ref().expect("refused").reason;
    assert_eq!(reason, "mask.mask is mask; blur.image accepts image");
    // Widgets on the canvas report canvas-space bounds; the pointer works in screen space.
    let refused = h.state().transform() * h.get_by_label("✖ wire refused").rect().center();
    h.hover_at(refused);
    h.run_steps(60);
    h.get_by_label("mask.mask is mask; blur.image accepts image");
    let saved = switchyard_editor::document::convert::to_file(&h.state().doc, &h.state().registry);
    assert_eq!(saved.nodes["blur"].inputs["image"].sources(), ["noise.image"]);
}

#[test]
fn a_param_changes_by_its_widget_and_undo_redo_walk_it_back_and_forth() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("unwired.json"));
    let color = |h: &Harness<'static, Editor>| h.state().current.nodes["noise"].params.get("color").cloned();
    assert_eq!(color(&h), None);
    h.get_by_label("color").click_accesskit();
    h.run_steps(2);
    assert_eq!(color(&h), Some(serde_json::Value::Bool(true)));
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(color(&h), None, "undone");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(color(&h), Some(serde_json::Value::Bool(true)), "redone");
    h.get_by_label("Edit").click();
    h.run_steps(1);
    h.get_by_label("Undo (Ctrl+Z)").click();
    h.run_steps(2);
    assert_eq!(color(&h), None, "undone from the menu");
}

#[test]
fn duplicate_and_delete_follow_the_selection_and_deleting_drops_the_wires() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    click_header(&mut h, "soft", egui::PointerButton::Primary, Modifiers::SHIFT);
    let ctx = h.ctx.clone();
    let soft = node(h.state(), "soft");
    assert_eq!(h.state_mut().selected(&ctx), [soft]);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::D);
    h.run_steps(2);
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    let file = &h.state().current;
    let keys: Vec<&str> = file.nodes.keys().map(String::as_str).collect();
    assert_eq!(keys, ["noise", "save", "soft_2"]);
    assert!(file.nodes["save"].inputs.is_empty(), "the deleted node's wires went with it");
    assert_eq!(file.nodes["soft_2"].params, file_params(&fixture("small-local.json"), "soft"));
}

#[test]
fn validation_problems_show_on_the_nodes_they_name() {
    let out = tempfile::tempdir().unwrap();
    let h = opened(out.path(), &fixture("unwired.json"));
    let problems: Vec<_> = h.state().look.problems.iter().map(|d| (d.node.clone(), d.code)).collect();
    assert!(problems.contains(&(Some("blur".into()), "missing-input")), "{problems:?}");
    assert!(problems.contains(&(Some("mask".into()), "missing-input")), "{problems:?}");
    // The canvas says what to do, not the file's syntax.
    let missing = egui_kittest::kittest::by().label_contains(r#"connect an image here (input "image")"#);
    assert_eq!(h.query_all(missing).count(), 2);
    h.get_by_label("total: 2 problem(s)");
}

fn file_params(path: &std::path::Path, key: &str) -> switchyard_engine::format::FileMap<serde_json::Value> {
    switchyard_editor::shell::files::read_workflow(path).unwrap().nodes[key].params.clone()
}

#[test]
fn a_param_can_be_driven_by_a_wire_and_turned_back_into_a_widget() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("param-wire.json"));
    click_header(&mut h, "noise", egui::PointerButton::Secondary, Modifiers::NONE);
    h.get_by_label("Drive by a wire ⏵").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "seed").click();
    h.remove_cursor();
    h.run_steps(5);
    assert_eq!(h.state().current.nodes["noise"].params.get("seed"), None, "a wired param has no value of its own");
    drag_wire(&mut h, ("count", 0), ("noise", 0));
    crate::support::settle(&mut h, |ed| ed.look.checked_rev == Some(ed.rev));
    assert_eq!(h.state().current.nodes["noise"].inputs["seed"].sources(), ["count.value"]);
    assert!(h.state().look.problems.is_empty(), "{:?}", h.state().look.problems);
    click_header(&mut h, "noise", egui::PointerButton::Secondary, Modifiers::NONE);
    h.get_by_label("Back to a widget: seed").click();
    h.run_steps(2);
    assert!(h.state().current.nodes["noise"].inputs.is_empty(), "the pin went, with its wire");
}
