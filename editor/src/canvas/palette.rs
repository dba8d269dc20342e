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
        let name = spec.display_name();
        let hay = [spec.type_name, spec.category, spec.description, name.as_str()];
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
                    if entry(ui, spec).clicked() {
                        picked = Some(spec.type_name.to_string());
                    }
                }
            });
        }
    });
    picked
}

/// One palette entry: the display name, with the type underneath in small print. The button
/// is labelled with the type, so it is found (and tested) by the name files use.
pub fn entry(ui: &mut Ui, spec: &NodeSpec) -> egui::Response {
    let text = egui::text::LayoutJob::default();
    let mut job = text;
    let body = egui::TextStyle::Button.resolve(ui.style());
    let small = egui::TextStyle::Small.resolve(ui.style());
    let strong = ui.visuals().strong_text_color();
    let weak = ui.visuals().weak_text_color();
    job.append(&spec.display_name(), 0.0, egui::TextFormat::simple(body, strong));
    job.append(&format!("\n{}", spec.type_name), 0.0, egui::TextFormat::simple(small, weak));
    let button = ui.add(egui::Button::new(job).min_size(egui::vec2(ui.available_width(), 0.0)));
    button.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, spec.type_name));
    button.on_hover_text(spec.description)
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
