//! Files: save and reload, unsaved-changes protection, templates and recent files.

use egui::Modifiers;
use egui_kittest::kittest::Queryable;
use switchyard_editor::shell::file_actions as files;
use switchyard_editor::shell::files::read_workflow;

use crate::support::{fixture, opened, workflows};

#[test]
fn every_template_saves_and_reloads_as_the_same_file() {
    let out = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(workflows()).unwrap() {
        let original = entry.unwrap().path();
        if original.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let copy = out.path().join(original.file_name().unwrap());
        std::fs::copy(&original, &copy).unwrap();
        let mut h = opened(out.path(), &copy);
        h.key_press_modifiers(Modifiers::COMMAND, egui::Key::S);
        h.run_steps(2);
        assert!(!h.state().dirty(), "{}: saved", copy.display());
        let (before, after) = (read_workflow(&original).unwrap(), read_workflow(&copy).unwrap());
        assert_eq!(before, after, "{} changed on a save with no edits", original.display());
        checked += 1;
    }
    assert!(checked >= 5, "the templates were found");
}

#[test]
fn unsaved_changes_are_asked_about_before_another_file_opens() {
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a.json"), out.path().join("b.json"));
    std::fs::copy(fixture("small-local.json"), &a).unwrap();
    std::fs::copy(fixture("unwired.json"), &b).unwrap();
    let mut h = opened(out.path(), &a);
    files::open(h.state_mut(), &b, false);
    h.run_steps(3);
    h.get_by_label("color").click_accesskit();
    h.run_steps(2);
    assert!(h.state().dirty());
    let a_shown = a.canonicalize().unwrap().display().to_string();
    for answer in ["Cancel", "Discard"] {
        h.get_by_label("File").click();
        h.run_steps(2);
        h.get_by_label("Recent ⏵").click();
        h.run_steps(2);
        h.get_by_label(&a_shown).click();
        h.run_steps(2);
        h.get_by_label("Unsaved changes");
        h.get_by_label(answer).click();
        h.run_steps(2);
    }
    assert_eq!(h.state().files.path.as_deref(), Some(a.as_path()), "discarding opened the other file");
    assert_eq!(read_workflow(&b).unwrap(), read_workflow(&fixture("unwired.json")).unwrap(), "b was not written");
}

#[test]
fn a_template_opens_from_the_browser_as_a_new_unsaved_graph() {
    let out = tempfile::tempdir().unwrap();
    let mut h = crate::support::harness(out.path());
    h.get_by_label("File").click();
    h.run_steps(1);
    h.get_by_label("Templates…").click();
    h.run_steps(2);
    h.get_by_label("Look-dev draft").click_accesskit();
    h.run_steps(3);
    let ed = h.state();
    assert_eq!(ed.current.nodes.len(), 6);
    assert_eq!(ed.files.path, None, "a template is copied, never overwritten");
    assert!(ed.dirty());
}
