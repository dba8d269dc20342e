//! The menu bar: File, Edit, View and Server.

use egui::Ui;

use super::editor::Editor;
use super::file_actions;
use super::files::Pending;
use crate::canvas::viewer::Action;

/// Draws the menu bar.
pub fn bar(ed: &mut Editor, ui: &mut Ui) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu(ed, ui));
        ui.menu_button("Edit", |ui| edit_menu(ed, ui));
        ui.menu_button("View", |ui| {
            if ui.button("Frame all (F)").clicked() {
                ed.frame_all();
                ui.close();
            }
            if ui.button("Arrange by depth (L)").clicked() {
                ed.arrange();
                ui.close();
            }
            let mut shown = !ed.look.previews_hidden;
            if ui.checkbox(&mut shown, "Previews (P)").changed() {
                ed.look.previews_hidden = !shown;
            }
        });
        ui.menu_button("Server", |ui| server_menu(ed, ui));
        ui.separator();
        let name = ed.files.path.as_deref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        let title = name.unwrap_or_else(|| "untitled".to_string());
        let full = ed.files.path.as_ref().map_or_else(|| "not saved yet".to_string(), |p| p.display().to_string());
        ui.label(if ed.dirty() { format!("{title} •") } else { title }).on_hover_text(full);
    });
}

fn file_menu(ed: &mut Editor, ui: &mut Ui) {
    if ui.button("New").clicked() {
        file_actions::request(ed, Pending::New);
        ui.close();
    }
    if ui.button("Open… (Ctrl+O)").clicked() {
        ed.files.pick_open();
        ui.close();
    }
    if ui.button("Templates…").clicked() {
        ed.files.show_templates();
        ui.close();
    }
    ui.menu_button("Recent", |ui| {
        if ed.files.recent.is_empty() {
            ui.label("no recent files");
        }
        for path in ed.files.recent.clone() {
            if ui.button(path.display().to_string()).clicked() {
                file_actions::request(ed, Pending::Open(path));
                ui.close();
            }
        }
    });
    ui.separator();
    if ui.button("Save (Ctrl+S)").clicked() {
        file_actions::save(ed);
        ui.close();
    }
    if ui.button("Save as… (Ctrl+Shift+S)").clicked() {
        ed.files.pick_save_as();
        ui.close();
    }
}

fn edit_menu(ed: &mut Editor, ui: &mut Ui) {
    if ui.add_enabled(ed.history.can_undo(), egui::Button::new("Undo (Ctrl+Z)")).clicked() {
        ed.undo();
        ui.close();
    }
    if ui.add_enabled(ed.history.can_redo(), egui::Button::new("Redo (Ctrl+Shift+Z)")).clicked() {
        ed.redo();
        ui.close();
    }
    ui.separator();
    if ui.button("Select all (Ctrl+A)").clicked() {
        ed.select_all();
        ui.close();
    }
    let selected = ed.selected(ui.ctx());
    if ui.add_enabled(!selected.is_empty(), egui::Button::new("Copy (Ctrl+C)")).clicked() {
        ed.copy(ui.ctx());
        ui.close();
    }
    if ui.button("Paste (Ctrl+V)").clicked() {
        ed.paste(None);
        ui.close();
    }
    if ui.add_enabled(!selected.is_empty(), egui::Button::new("Duplicate (Ctrl+D)")).clicked() {
        ed.act(Action::Duplicate(selected.clone()));
        ui.close();
    }
    if ui.add_enabled(!selected.is_empty(), egui::Button::new("Delete (Del)")).clicked() {
        ed.act(Action::Delete(selected));
        ui.close();
    }
}

fn server_menu(ed: &mut Editor, ui: &mut Ui) {
    if ui.button("Connect…").clicked() {
        ed.server_window = true;
        ui.close();
    }
    if ui.add_enabled(ed.connected.is_some(), egui::Button::new("Disconnect (run here)")).clicked() {
        ed.disconnect();
        ui.close();
    }
    ui.separator();
    if ui.add_enabled(ed.connected.is_some(), egui::Button::new("Library…")).clicked() {
        super::library::show_library(ed);
        ui.close();
    }
}
