//! Reroute points: a wire released on empty canvas offers one, it carries the wire's type on,
//! the file keeps the direct wire (the engine never sees the point), and deleting the point
//! keeps the wire.

use egui::Pos2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use egui_snarl::{InPinId, OutPinId};
use switchyard_editor::Editor;
use switchyard_editor::canvas::pins::Side;
use switchyard_editor::document::reroute;
use switchyard_engine::PortType;

use crate::support::{fixture, node, opened, settle};

fn pin(h: &Harness<'static, Editor>, key: &str, side: Side) -> Pos2 {
    let ed = h.state();
    ed.transform() * ed.pins.get(node(ed, key), side, 0).expect("the pin was drawn").center()
}

fn drag(h: &mut Harness<'static, Editor>, from: Pos2, to: Pos2) {
    crate::support::drag(h, from, to, true);
}

#[test]
fn a_reroute_point_carries_a_wire_and_the_file_keeps_the_direct_wire() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    // A wire from soft released on empty canvas, below the graph, offers a point there.
    let soft_out = pin(&h, "soft", Side::Out);
    drag(&mut h, soft_out, soft_out + egui::vec2(60.0, 260.0));
    h.get_by_label("Reroute here").click();
    h.run_steps(3);
    let point = node(h.state(), "reroute");
    let carried = reroute::out_type(&h.state().doc.snarl, &h.state().registry, OutPinId { node: point, output: 0 });
    assert_eq!(carried, Some(PortType::Image), "the point carries soft's image type");
    assert_eq!(h.state().status, "added a reroute point; drag from its right side to carry the wire on");

    // On from the point into save: save's old wire is replaced by the one through the point.
    let (a, b) = (pin(&h, "reroute", Side::Out), pin(&h, "save", Side::In));
    drag(&mut h, a, b);
    let ed = h.state();
    let save = node(ed, "save");
    let into_save = ed.doc.snarl.in_pin(InPinId { node: save, input: 0 }).remotes;
    assert_eq!(into_save, [OutPinId { node: point, output: 0 }], "save is fed through the point");
    assert_eq!(ed.current.nodes["save"].inputs["image"].sources(), ["soft.image"], "the file keeps the direct wire");
    assert!(!ed.current.nodes.contains_key("reroute"), "the point is no node of the workflow");
    settle(&mut h, |ed| ed.look.checked_rev == Some(ed.rev));
    assert!(h.state().look.problems.is_empty(), "{:?}", h.state().look.problems);

    let saved = out.path().join("rerouted.json");
    switchyard_editor::shell::file_actions::save_to(h.state_mut(), &saved);
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let entry = &file["ui"]["reroutes"]["reroute"];
    assert_eq!((entry["from"].as_str(), &entry["to"]), (Some("soft.image"), &serde_json::json!(["save.image"])));
    let again = opened(out.path(), &saved);
    let ed = again.state();
    let (point, save) = (node(ed, "reroute"), node(ed, "save"));
    assert_eq!(
        ed.doc.snarl.in_pin(InPinId { node: save, input: 0 }).remotes,
        [OutPinId { node: point, output: 0 }],
        "the point opens again between soft and save"
    );

    // Deleting the point keeps the wire it carried.
    let point = node(h.state(), "reroute");
    h.state_mut().act(switchyard_editor::canvas::viewer::Action::Delete(vec![point]));
    h.run_steps(2);
    let ed = h.state();
    assert_eq!(
        ed.doc.snarl.in_pin(InPinId { node: node(ed, "save"), input: 0 }).remotes,
        [OutPinId { node: node(ed, "soft"), output: 0 }]
    );
    assert!(ed.current.ui.as_ref().is_some_and(|u| !u.contains_key("reroutes")));
}

#[test]
fn a_point_refuses_a_wire_its_inputs_would_refuse() {
    let out = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("small-local.json")).unwrap().replace(
        r#""ui": {"#,
        r#""ui": { "reroutes": { "r": { "pos": [720, 300], "from": "soft.image", "to": ["save.image"] } },"#,
    );
    let file = out.path().join("with-point.json");
    std::fs::write(&file, text).unwrap();
    let mut h = opened(out.path(), &file);
    let ed = h.state_mut();
    let noise = node(ed, "noise");
    // noise's width (an int) driven by a wire, then fed from the image point: refused.
    ed.doc.drive_by_wire(noise, "width");
    ed.commit("wire param");
    h.run_steps(3);
    let (a, b) = (pin(&h, "r", Side::Out), pin(&h, "noise", Side::In));
    drag(&mut h, a, b);
    let ed = h.state();
    let refusal = ed.refusal.as_ref().expect("the wire was refused");
    assert_eq!(refusal.reason, "soft.image is image; noise.width accepts int");
    assert_eq!(ed.current.nodes["save"].inputs["image"].sources(), ["soft.image"]);
}
