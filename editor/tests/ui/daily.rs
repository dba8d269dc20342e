//! What a ComfyUI user reaches for in the first hour: badges that never cover the graph,
//! errors on the node at fault only, modes, previews that fold and go stale, selection,
//! copy and paste, the double-click search, arranging, and files that save as they opened.

use egui::Modifiers;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use switchyard_editor::Editor;
use switchyard_editor::canvas::badges;
use switchyard_editor::canvas::viewer::Action;
use switchyard_engine::format::NodeMode;

use crate::support::{click_header, fixture, node, opened, settle, workflows};

fn badge(h: &Harness<'static, Editor>, key: &str) -> (String, bool) {
    let ed = h.state();
    let n = &ed.doc.snarl[node(ed, key)];
    let spec = ed.registry.get(&n.type_name).unwrap().spec();
    let (text, _, error) = badges::text(&ed.look, key, spec);
    (text, error)
}

fn checked(h: &mut Harness<'static, Editor>) {
    settle(h, |ed| ed.look.checked_rev == Some(ed.rev) && ed.look.quote.is_some());
}

#[test]
fn an_unwired_node_is_flagged_alone_and_every_other_node_keeps_its_badge() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &workflows().join("hybrid-upscale.json"));
    h.state_mut().add_node("cloud.upscale", egui::pos2(900.0, 400.0));
    checked(&mut h);
    let ed = h.state();
    assert!(ed.look.problems.iter().all(|d| d.node.as_deref() == Some("upscale")), "{:?}", ed.look.problems);
    let (final_badge, error) = badge(&h, "final");
    assert!(final_badge.starts_with("stability:") && !error, "the final still shows its placement: {final_badge}");
    assert_eq!(badge(&h, "draft").0.split(" · ").next(), Some("local:upscale2x"));
    assert_eq!(badge(&h, "upscale"), ("not quoted: fix this node first".to_string(), true));
    assert!(h.state().run_blocker().unwrap().contains("1 problem(s)"));
}

#[test]
fn a_placement_error_shows_on_the_node_at_fault_only() {
    let out = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(workflows().join("hybrid-upscale.json"))
        .unwrap()
        .replace(r#""quality": "final""#, r#""quality": "final", "placement": { "only": ["bfl"] }"#);
    let file = out.path().join("hybrid.json");
    std::fs::write(&file, text).unwrap();
    let mut h = opened(out.path(), &file);
    checked(&mut h);
    let (final_badge, error) = badge(&h, "final");
    assert!(error && final_badge.starts_with("not placed: no placement for upscale"), "{final_badge}");
    let (draft_badge, error) = badge(&h, "draft");
    assert!(!error && draft_badge.starts_with("local:upscale2x"), "the draft is not blamed: {draft_badge}");
    assert!(h.state().run_blocker().unwrap().starts_with("not placed:"), "Run stays off");
}

#[test]
fn long_badges_stay_on_one_line_and_never_widen_the_node() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &workflows().join("hybrid-upscale.json"));
    h.run_steps(4);
    let width = |h: &Harness<'static, Editor>, key: &str| h.state().rects[&node(h.state(), key)].width();
    let cheapest = width(&h, "final");
    h.state_mut().set_policy("greenest");
    checked(&mut h);
    h.run_steps(4);
    let (text, _) = badge(&h, "final");
    assert!(text.len() > 40, "a long badge under greenest: {text}");
    assert!(
        (width(&h, "final") - cheapest).abs() < 1.0,
        "the long badge did not widen the node: {} vs {cheapest}",
        width(&h, "final")
    );
    let ed = h.state();
    let (a, b) = (ed.rects[&node(ed, "draft")], ed.rects[&node(ed, "final")]);
    assert!(!a.intersects(b), "the two cloud nodes do not overlap: {a:?} {b:?}");
}

#[test]
fn run_settings_and_node_modes_are_saved_with_the_file_and_opened_again() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    h.state_mut().set_policy("local-first:greenest");
    let soft = node(h.state(), "soft");
    h.state_mut().act(Action::SetMode(soft, NodeMode::Bypass));
    h.run_steps(2);
    assert_eq!(h.state().status, "changed a node's mode (run, bypass or mute)", "the status says what happened");
    let saved = out.path().join("saved.json");
    switchyard_editor::shell::file_actions::save_to(h.state_mut(), &saved);
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains(r#""run": { "policy": "local-first:greenest" }"#), "{text}");
    assert!(text.contains(r#""mode": "bypass""#), "{text}");
    let mut again = opened(out.path(), &saved);
    assert_eq!(again.state().policy, "local-first:greenest");
    assert_eq!(again.state().doc.snarl[node(again.state(), "soft")].mode, NodeMode::Bypass);
    checked(&mut again);
    assert!(again.state().look.problems.is_empty(), "a bypassed blur passes its image on");
}

#[test]
fn saving_an_unchanged_template_writes_the_same_bytes() {
    let out = tempfile::tempdir().unwrap();
    for name in ["hybrid-upscale.json", "lookdev-draft.json", "cloud-shot.json"] {
        let mut h = opened(out.path(), &workflows().join(name));
        let copy = out.path().join(name);
        switchyard_editor::shell::file_actions::save_to(h.state_mut(), &copy);
        let (before, after) =
            (std::fs::read_to_string(workflows().join(name)).unwrap(), std::fs::read_to_string(&copy).unwrap());
        assert_eq!(after, before, "{name} saved unchanged");
    }
}

#[test]
fn previews_fold_hide_and_go_stale_after_an_upstream_edit_and_save_nodes_show_their_file() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    h.get_by_label("▶ Run").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    h.get_by_label("preview of soft");
    h.get_by_label("wrote soft.png");
    h.state_mut().act(Action::FoldPreview("soft".into()));
    h.run_steps(2);
    assert!(h.query_by_label("preview of soft").is_none(), "folded");
    h.get_by_label("▸ preview").click_accesskit();
    h.run_steps(2);
    h.get_by_label("preview of soft");
    h.key_press(egui::Key::P);
    h.run_steps(2);
    assert!(h.query_by_label("preview of soft").is_none(), "all previews hidden with P");
    h.key_press(egui::Key::P);
    h.run_steps(2);
    assert!(h.state().look.stale.is_empty());
    h.get_by_label("color").click_accesskit();
    h.run_steps(2);
    let stale = &h.state().look.stale;
    assert!(stale.contains("noise") && stale.contains("soft") && stale.contains("save"), "{stale:?}");
    assert!(h.query_all_by_label("stale").count() >= 2, "soft's preview and noise's are stale");
    h.get_by_label("wrote (stale) soft.png");
}

#[test]
fn a_plain_click_selects_ctrl_a_takes_all_and_copy_paste_works_within_and_between_graphs() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    let ctx = h.ctx.clone();
    click_header(&mut h, "soft", egui::PointerButton::Primary, Modifiers::NONE);
    let soft = node(h.state(), "soft");
    assert_eq!(h.state_mut().selected(&ctx), [soft], "a plain click selects");
    click_header(&mut h, "save", egui::PointerButton::Primary, Modifiers::NONE);
    let save = node(h.state(), "save");
    assert_eq!(h.state_mut().selected(&ctx), [save], "another plain click moves the selection");
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.run_steps(2);
    assert_eq!(h.state_mut().selected(&ctx).len(), 3, "Ctrl+A selects all");
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::C);
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::V);
    h.run_steps(2);
    let file = &h.state().current;
    let keys: Vec<&str> = file.nodes.keys().map(String::as_str).collect();
    assert_eq!(keys, ["noise", "soft", "save", "noise_2", "soft_2", "save_2"]);
    assert_eq!(file.nodes["soft_2"].inputs["image"].sources(), ["noise_2.image"], "wires among the copies kept");
    assert_eq!(h.state().status, "pasted 3 node(s)");
    // Into another graph, through the clipboard's text.
    let copied = serde_json::to_string(h.state().clipboard.as_ref().unwrap()).unwrap();
    let mut other = opened(out.path(), &workflows().join("lookdev-draft.json"));
    other.event(egui::Event::Paste(copied));
    other.run_steps(2);
    let keys = &other.state().current.nodes;
    assert!(
        keys.contains_key("noise") && keys.contains_key("save_2") && keys.contains_key("soft_2"),
        "{:?}",
        keys.keys()
    );
    other.event(egui::Event::Paste("not nodes".into()));
    other.run_steps(2);
    let status = &other.state().status;
    assert!(status.starts_with("not pasted: the clipboard holds no Switchyard nodes"), "{status}");
}

#[test]
fn a_double_click_on_the_canvas_searches_and_places_the_node_there() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    let ed = h.state();
    let below =
        ed.rects.values().fold(egui::Rect::NOTHING, |a, r| a.union(*r)).center_bottom() + egui::vec2(0.0, 200.0);
    let screen = ed.transform() * below;
    h.hover_at(screen);
    h.step();
    // The harness steps a quarter second a frame; egui's double-click window is 0.3 s.
    h.ctx.options_mut(|o| o.input_options.max_double_click_delay = 1.0);
    for _ in 0..2 {
        for pressed in [true, false] {
            let button = egui::PointerButton::Primary;
            h.event(egui::Event::PointerButton { pos: screen, button, pressed, modifiers: Modifiers::NONE });
        }
    }
    h.step();
    h.run_steps(2);
    assert!(h.state().quick_add.is_some(), "the search box opened");
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Add a node").type_text("blur");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    let ed = h.state();
    let added = ed.doc.find("blur").expect("a blur node was added");
    let pos = ed.doc.snarl.get_node_info(added).unwrap().pos;
    assert!(pos.distance(below) < 2.0, "placed where the double-click was: {pos:?} vs {below:?}");
    assert!(ed.quick_add.is_none());
}

#[test]
fn arrange_lays_nodes_out_by_depth_and_the_palette_adds_to_a_free_spot() {
    let out = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("small-local.json"))
        .unwrap()
        .replace("[360, 0]", "[0, 0]")
        .replace("[720, 0]", "[0, 0]");
    let piled = out.path().join("piled.json");
    std::fs::write(&piled, text).unwrap();
    let mut h = opened(out.path(), &piled);
    h.key_press(egui::Key::L);
    h.run_steps(4);
    let ed = h.state();
    let x = |key: &str| ed.doc.snarl.get_node_info(node(ed, key)).unwrap().pos.x;
    assert!(x("noise") < x("soft") && x("soft") < x("save"), "columns by depth");
    let rects: Vec<egui::Rect> = ed.rects.values().copied().collect();
    for (i, a) in rects.iter().enumerate() {
        for b in &rects[i + 1..] {
            assert!(!a.intersects(*b), "arranged nodes do not overlap: {a:?} {b:?}");
        }
    }
    for type_name in ["image.noise", "image.blur"] {
        h.get_by_role_and_label(egui::accesskit::Role::Button, type_name).click();
        h.run_steps(3);
    }
    let ed = h.state();
    let rects: Vec<egui::Rect> = ed.rects.values().copied().collect();
    for (i, a) in rects.iter().enumerate() {
        for b in &rects[i + 1..] {
            assert!(!a.intersects(*b), "palette nodes land on free spots: {a:?} {b:?}");
        }
    }
}

#[test]
fn the_open_dialog_lists_workflows_and_a_param_picker_lists_everything() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    h.state_mut().files.pick_open();
    let filter = h.state_mut().files.dialog_filter();
    assert_eq!(filter.as_deref(), Some(switchyard_editor::shell::files::WORKFLOW_FILTER));
    h.state_mut().files.pick_param("noise".into(), "path".into());
    assert_eq!(h.state_mut().files.dialog_filter(), None);
}

#[test]
fn a_png_saved_by_a_run_opens_as_the_graph_that_made_it() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    h.get_by_label("▶ Run").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    let image = out.path().join("soft.png");
    let mut other = crate::support::harness(out.path());
    switchyard_editor::shell::file_actions::open(other.state_mut(), &image, false);
    other.run_steps(2);
    let ed = other.state();
    let keys: Vec<&str> = ed.current.nodes.keys().map(String::as_str).collect();
    assert_eq!(keys, ["noise", "soft", "save"], "{}", ed.status);
    assert!(ed.files.path.is_none(), "saving never overwrites the image");
    assert!(ed.status.contains("the workflow of"), "{}", ed.status);
}

#[test]
fn a_wire_released_near_a_compatible_pin_snaps_to_it_and_an_incompatible_one_does_not() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("unwired.json"));
    crate::support::drag_wire_near(&mut h, ("mask", 0), ("blur", 0), egui::vec2(-16.0, 6.0));
    assert_eq!(h.state().doc.snarl.wires().count(), 0, "a mask never snaps to an image input");
    crate::support::drag_wire_near(&mut h, ("noise", 0), ("blur", 0), egui::vec2(-16.0, 6.0));
    let saved = switchyard_editor::document::convert::to_file(&h.state().doc, &h.state().registry);
    assert_eq!(saved.nodes["blur"].inputs["image"].sources(), ["noise.image"], "released 17 px short, it snapped");
}
