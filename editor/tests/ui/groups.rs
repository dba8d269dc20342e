//! Groups as a ComfyUI user handles them: made from the selection, dragged by the title bar
//! with the nodes inside, renamed and recoloured from the title's menu, saved and opened.

use egui::{Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use switchyard_editor::Editor;

use crate::support::{click_header, fixture, node, opened};

fn pos(h: &Harness<'static, Editor>, key: &str) -> Pos2 {
    let ed = h.state();
    ed.doc.snarl.get_node_info(node(ed, key)).unwrap().pos
}

/// Presses at `from`, moves to `to` in steps and releases, all in screen space.
fn drag(h: &mut Harness<'static, Editor>, from: Pos2, to: Pos2, button: PointerButton) {
    h.hover_at(from);
    h.step();
    h.event(egui::Event::PointerButton { pos: from, button, pressed: true, modifiers: Modifiers::NONE });
    h.step();
    for t in [0.25, 0.5, 0.75, 1.0] {
        h.hover_at(from + (to - from) * t);
        h.step();
    }
    h.event(egui::Event::PointerButton { pos: to, button, pressed: false, modifiers: Modifiers::NONE });
    h.run_steps(2);
}

#[test]
fn a_group_made_from_the_selection_moves_its_nodes_and_is_saved_with_its_name_and_colour() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    click_header(&mut h, "noise", PointerButton::Primary, Modifiers::NONE);
    click_header(&mut h, "soft", PointerButton::Primary, Modifiers::SHIFT);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::G);
    h.run_steps(2);
    assert_eq!(h.state().doc.groups.len(), 1, "Ctrl+G groups the selection");
    assert!(h.state().status.starts_with("grouped 2 node(s)"), "{}", h.state().status);

    // Dragging the title bar moves the group and the nodes inside; the node outside stays.
    let (noise, soft, save) = (pos(&h, "noise"), pos(&h, "soft"), pos(&h, "save"));
    let (first, transform) = (h.state().doc.groups[0].rect, h.state().transform());
    let title = h.state().doc.groups[0].title_bar();
    let grab = transform * (title.left_center() + egui::vec2(40.0, 0.0));
    let screen_move = egui::vec2(120.0, 90.0);
    drag(&mut h, grab, grab + screen_move, PointerButton::Primary);
    let moved = screen_move / transform.scaling;
    for (key, before) in [("noise", noise), ("soft", soft)] {
        assert!((pos(&h, key) - (before + moved)).length() < 1.0, "{key} moved with its group");
    }
    assert_eq!(pos(&h, "save"), save, "a node outside the group stays");
    assert_eq!(h.state().transform(), transform, "the view did not pan under the drag");
    assert_eq!(h.state().status, "moved a group with its nodes");
    let rect = h.state().doc.groups[0].rect;
    assert!((rect.min - (title.min + moved)).length() < 1.0, "the group moved as far as its nodes");

    // Its menu, from a right click on the title: a new name and colour.
    let title = transform * (rect.left_top() + egui::vec2(40.0, 12.0));
    h.hover_at(title);
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: title,
            button: PointerButton::Secondary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Group name").type_text(" look");
    h.run_steps(2);
    h.get_by_label("colour green").click();
    h.run_steps(2);
    let group = h.state().doc.groups[0].clone();
    assert_eq!((group.title.as_str(), group.color), ("Group look", egui::Color32::from_rgb(0x4a, 0x8a, 0x4e)));

    let saved = out.path().join("grouped.json");
    switchyard_editor::shell::file_actions::save_to(h.state_mut(), &saved);
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let g = &file["ui"]["groups"][0];
    assert_eq!((g["title"].as_str(), g["color"].as_str()), (Some("Group look"), Some("#4a8a4e")));
    assert_eq!(g["bounding"].as_array().map(Vec::len), Some(4));
    let again = opened(out.path(), &saved);
    assert_eq!(again.state().doc.groups.len(), 1, "the group opens again");
    assert_eq!(again.state().doc.groups[0].title, "Group look");

    // Undo walks the move back, nodes and group together.
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!((pos(&h, "noise") - noise).length() < 1.0, "undo puts the nodes back");
    assert!((h.state().doc.groups[0].rect.min - first.min).length() < 1.0, "and the group with them");
}
