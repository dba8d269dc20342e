//! Windows over the canvas: the large preview, the template browser, the file dialog and the
//! "save changes?" question.

use egui::Ui;

use super::editor::Editor;
use super::file_actions;
use super::files::{Pending, Purpose};

/// Draws whichever windows are open.
pub fn show(ed: &mut Editor, ui: &mut Ui) {
    let ctx = ui.ctx().clone();
    super::quick_add::show(ed, ui);
    preview_window(ed, &ctx);
    server_window(ed, &ctx);
    super::library::window(ed, &ctx);
    templates_window(ed, &ctx);
    if let Some((purpose, path)) = ed.files.dialog(&ctx) {
        match purpose {
            Purpose::Open => file_actions::request(ed, Pending::Open(path)),
            Purpose::SaveAs => file_actions::save_to(ed, &path),
            Purpose::Param(key, param) => file_actions::set_param_path(ed, &key, &param, &path),
        }
    }
    confirm_window(ed, &ctx);
    close_guard(ed, &ctx);
}

fn preview_window(ed: &mut Editor, ctx: &egui::Context) {
    let Some(key) = ed.viewing.clone() else { return };
    let Some((texture, size)) = ed.look.previews.get(&key) else {
        ed.viewing = None;
        return;
    };
    let mut open = true;
    egui::Window::new(format!("Preview: {key}")).open(&mut open).default_size([720.0, 520.0]).show(ctx, |ui| {
        ui.label(format!("{} × {} px", size[0], size[1]));
        ui.add(egui::Image::new(texture).shrink_to_fit());
    });
    if !open {
        ed.viewing = None;
    }
}

fn templates_window(ed: &mut Editor, ctx: &egui::Context) {
    let Some(list) = &ed.files.templates else { return };
    let mut open = true;
    let mut picked = None;
    egui::Window::new("Templates").open(&mut open).show(ctx, |ui| {
        ui.label(format!("from {}", ed.files.templates_dir.display()));
        egui::ScrollArea::vertical().max_height(420.0).show(ui, |ui| {
            for (path, name, description) in list {
                if ui.button(name).on_hover_text(description).clicked() {
                    picked = Some(path.clone());
                }
                ui.label(egui::RichText::new(description).small().weak());
            }
        });
    });
    if picked.is_some() || !open {
        ed.files.templates = None;
    }
    if let Some(path) = picked {
        file_actions::request(ed, Pending::Template(path));
    }
}

fn confirm_window(ed: &mut Editor, ctx: &egui::Context) {
    let Some(pending) = ed.files.confirm.clone() else { return };
    let modal = egui::Modal::new(egui::Id::new("unsaved")).show(ctx, |ui| {
        ui.heading("Unsaved changes");
        ui.label("The graph has changes that are not saved. Save them first?");
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                file_actions::save(ed);
                ed.files.confirm = None;
                if !ed.dirty() {
                    file_actions::carry_out(ed, pending.clone());
                }
            }
            if ui.button("Discard").clicked() {
                ed.files.confirm = None;
                file_actions::carry_out(ed, pending.clone());
            }
            if ui.button("Cancel").clicked() {
                ed.files.confirm = None;
            }
        });
    });
    if modal.should_close() {
        ed.files.confirm = None;
    }
}

/// Closing the window with unsaved changes asks first.
fn close_guard(ed: &mut Editor, ctx: &egui::Context) {
    if ed.files.may_close {
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        return;
    }
    if ctx.input(|i| i.viewport().close_requested()) && ed.dirty() {
        ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        ed.files.confirm = Some(Pending::Quit);
    }
}

/// The Server window: a URL, an API key and the account to bill, then Connect.
fn server_window(ed: &mut Editor, ctx: &egui::Context) {
    let mut open = ed.server_window;
    egui::Window::new("Run on a server").open(&mut open).resizable(false).show(ctx, |ui| {
        egui::Grid::new("server-form").num_columns(2).show(ui, |ui| {
            let label = ui.label("URL");
            ui.add(egui::TextEdit::singleline(&mut ed.server.url).hint_text("http://127.0.0.1:8188"))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("API key");
            ui.add(egui::TextEdit::singleline(&mut ed.server.token).password(true).hint_text("sy_…"))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Account");
            let mut account = ed.server.account.clone().unwrap_or_default();
            let field = egui::TextEdit::singleline(&mut account).hint_text("none: unbilled");
            if ui.add(field).labelled_by(label.id).changed() {
                ed.server.account = Some(account.trim().to_string()).filter(|a| !a.is_empty());
            }
            ui.end_row();
        });
        let ready = !ed.server.url.trim().is_empty() && !ed.server.token.trim().is_empty();
        if ui.add_enabled(ready, egui::Button::new("Connect")).clicked() {
            ed.connect();
        }
        if let Some(what) = &ed.connected {
            ui.label(what);
        }
    });
    ed.server_window &= open;
}
