//! The search box a double-click on empty canvas opens, as in ComfyUI: type, then Enter (or
//! click a match) places that node where the user double-clicked.

use egui::{Key, Pos2, Ui};

use super::editor::Editor;

/// The most matches listed.
const MATCHES_MAX: usize = 12;

/// An open quick-add box.
#[derive(Clone, Debug, PartialEq)]
pub struct QuickAdd {
    /// Where the box opens (screen space).
    pub screen: Pos2,
    /// Where the node goes (canvas space).
    pub canvas: Pos2,
    /// The search text.
    pub text: String,
}

/// Draws the box, if open; adds the chosen node and closes it.
pub fn show(ed: &mut Editor, ui: &Ui) {
    let Some(mut quick) = ed.quick_add.take() else { return };
    let mut chosen = None;
    let mut open = true;
    egui::Area::new(egui::Id::new("quick-add")).fixed_pos(quick.screen).order(egui::Order::Foreground).show(
        ui.ctx(),
        |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_width(260.0);
                let label = ui.label("Add a node");
                let field = egui::TextEdit::singleline(&mut quick.text).hint_text("search nodes");
                let field = ui.add(field).labelled_by(label.id);
                field.request_focus();
                let groups = crate::canvas::palette::grouped(&ed.registry, &quick.text);
                let matches: Vec<_> = groups.values().flatten().take(MATCHES_MAX).collect();
                if matches.is_empty() {
                    ui.label("no node matches");
                }
                for spec in &matches {
                    if crate::canvas::palette::entry(ui, spec).clicked() {
                        chosen = Some(spec.type_name.to_string());
                    }
                }
                if ui.input(|i| i.key_pressed(Key::Enter)) {
                    chosen = chosen.take().or_else(|| matches.first().map(|s| s.type_name.to_string()));
                }
                if ui.input(|i| i.key_pressed(Key::Escape)) {
                    open = false;
                }
            });
        },
    );
    match chosen {
        Some(type_name) => ed.add_node(&type_name, quick.canvas),
        None if open => ed.quick_add = Some(quick),
        None => {}
    }
}
