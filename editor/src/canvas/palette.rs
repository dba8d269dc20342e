//! The node palette: every registered type, grouped by category, filtered by a search.

use std::collections::BTreeMap;

use egui::Ui;
use switchyard_engine::{NodeSpec, Registry};

/// Specs grouped by category, keeping those that match `search` (type, category or
/// description, ignoring case).
pub fn grouped<'a>(registry: &'a Registry, search: &str) -> BTreeMap<&'static str, Vec<&'a NodeSpec>> {
    let needle = search.trim().to_lowercase();
    let mut groups: BTreeMap<&'static str, Vec<&NodeSpec>> = BTreeMap::new();
    for spec in registry.specs() {
        let hay = [spec.type_name, spec.category, spec.description];
        if needle.is_empty() || hay.iter().any(|h| h.to_lowercase().contains(&needle)) {
            groups.entry(spec.category).or_default().push(spec);
        }
    }
    groups
}

/// The side panel; returns the type the user clicked.
pub fn panel(ui: &mut Ui, registry: &Registry, search: &mut String) -> Option<String> {
    ui.heading("Nodes");
    ui.horizontal(|ui| {
        let label = ui.label("Find");
        let field =
            egui::TextEdit::singleline(search).hint_text("type, category or words").desired_width(f32::INFINITY);
        ui.add(field).labelled_by(label.id);
    });
    let groups = grouped(registry, search);
    if groups.is_empty() {
        ui.label("no node matches");
    }
    let mut picked = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (category, specs) in &groups {
            let header =
                egui::CollapsingHeader::new(*category).default_open(true).open((!search.is_empty()).then_some(true));
            header.show(ui, |ui| {
                for spec in specs {
                    if ui.button(spec.type_name).on_hover_text(spec.description).clicked() {
                        picked = Some(spec.type_name.to_string());
                    }
                }
            });
        }
    });
    picked
}

/// The canvas's right-click menu: categories as submenus.
pub fn menu(ui: &mut Ui, registry: &Registry) -> Option<String> {
    let mut picked = None;
    for (category, specs) in grouped(registry, "") {
        ui.menu_button(category, |ui| {
            for spec in specs {
                if ui.button(spec.type_name).on_hover_text(spec.description).clicked() {
                    picked = Some(spec.type_name.to_string());
                }
            }
        });
    }
    picked
}
