//! The team's templates in the Library window, with their previews, and "Use template": a
//! form of only the params a template exposes, for people who run templates and do not
//! edit graphs; it runs the template on the server with those values.

use std::collections::BTreeMap;

use egui::Ui;
use serde_json::Value;
use switchyard_client::library::{ExposedParam, TemplateState, TemplateView};

use super::editor::Editor;
use crate::work::Request;
use crate::work::library::LibraryAsk;

/// The templates as listed, and the form of the one in use.
#[derive(Default)]
pub struct Templates {
    /// Each template version, with its preview texture.
    pub list: Vec<(TemplateView, Option<egui::TextureHandle>)>,
    /// The template being filled in, and its values by exposed key.
    pub using: Option<(TemplateView, BTreeMap<String, Value>)>,
    /// How the last template run ended.
    pub ran: String,
}

/// The preview's PNG as a texture.
pub fn texture(ctx: &egui::Context, name: &str, png: &[u8]) -> Option<egui::TextureHandle> {
    let rgba = image::load_from_memory_with_format(png, image::ImageFormat::Png).ok()?.to_rgba8();
    let size = [rgba.width() as usize, rgba.height() as usize];
    let image = egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw());
    Some(ctx.load_texture(format!("template-{name}"), image, egui::TextureOptions::LINEAR))
}

/// Asks for the team's templates.
pub fn list(ed: &mut Editor) {
    ed.backend.send(Request::Library(LibraryAsk::Templates));
}

/// Opens the form for `t`, its fields at their defaults.
pub fn start(ed: &mut Editor, t: TemplateView) {
    let values = t.exposed.iter().map(|e| (e.key.clone(), e.default.clone())).collect();
    ed.library.templates.using = Some((t, values));
}

/// Runs the template in use with the form's values.
pub fn run(ed: &mut Editor) {
    let Some((t, values)) = &ed.library.templates.using else { return };
    let set = values
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    let ask = LibraryAsk::RunTemplate { reference: t.reference.clone(), set };
    if ed.backend.send(Request::Library(ask)) {
        ed.library.templates.ran = format!("running {}…", t.reference);
        ed.status = ed.library.templates.ran.clone();
    }
}

fn field(ui: &mut Ui, e: &ExposedParam, value: &mut Value) {
    let (min, max) = (e.min.unwrap_or(f64::MIN), e.max.unwrap_or(f64::MAX));
    match e.kind.as_str() {
        "int" | "seed" => {
            let mut v = value.as_i64().unwrap_or_default();
            if ui.add(egui::DragValue::new(&mut v).range(min as i64..=max as i64)).changed() {
                *value = Value::from(v);
            }
        }
        "float" => {
            let mut v = value.as_f64().unwrap_or_default();
            if ui.add(egui::DragValue::new(&mut v).range(min..=max).speed(0.05)).changed() {
                *value = Value::from(v);
            }
        }
        "bool" => {
            let mut v = value.as_bool().unwrap_or_default();
            if ui.checkbox(&mut v, "").changed() {
                *value = Value::from(v);
            }
        }
        "choice" => {
            let mut v = value.as_str().unwrap_or_default().to_string();
            egui::ComboBox::from_id_salt(&e.key).selected_text(&v).show_ui(ui, |ui| {
                for o in &e.options {
                    ui.selectable_value(&mut v, o.clone(), o);
                }
            });
            *value = Value::from(v);
        }
        _ => {
            let mut v = value.as_str().unwrap_or_default().to_string();
            if ui.text_edit_singleline(&mut v).changed() {
                *value = Value::from(v);
            }
        }
    }
}

fn form(ed: &mut Editor, ui: &mut Ui) {
    let mut go = false;
    let mut close = false;
    if let Some((t, values)) = &mut ed.library.templates.using {
        ui.separator();
        ui.label(egui::RichText::new(format!("Use {}", t.reference)).strong());
        if t.state == TemplateState::Deprecated {
            ui.label(
                egui::RichText::new("deprecated: it still runs, pinned").color(egui::Color32::from_rgb(230, 160, 60)),
            );
        }
        egui::Grid::new("template-form").num_columns(2).show(ui, |ui| {
            for e in &t.exposed {
                let label = ui.label(&e.label).on_hover_text(&e.key);
                let value = values.entry(e.key.clone()).or_insert(Value::Null);
                ui.push_id(&e.key, |ui| field(ui, e, value)).response.labelled_by(label.id);
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            go = ui.add_enabled(ed.connected.is_some(), egui::Button::new("▶ Run template")).clicked();
            close = ui.button("Close form").clicked();
        });
    }
    if go {
        run(ed);
    }
    if close {
        ed.library.templates.using = None;
    }
}

/// The Templates section of the Library window.
pub fn section(ed: &mut Editor, ui: &mut Ui) {
    ui.separator();
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("Templates").strong());
        if ui.small_button("List templates").clicked() {
            list(ed);
        }
    });
    let mut picked = None;
    egui::ScrollArea::vertical().id_salt("library-templates").max_height(200.0).show(ui, |ui| {
        for (t, preview) in &ed.library.templates.list {
            ui.horizontal(|ui| {
                if let Some(tex) = preview {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(48.0, 48.0)));
                }
                ui.vertical(|ui| {
                    ui.label(format!("{}  ({:?})", t.reference, t.state).to_lowercase());
                    if !t.description.is_empty() {
                        ui.label(egui::RichText::new(&t.description).small().weak());
                    }
                });
                if ui.button(format!("Use {}", t.reference)).clicked() {
                    picked = Some(t.clone());
                }
            });
        }
    });
    if let Some(t) = picked {
        start(ed, t);
    }
    form(ed, ui);
    if !ed.library.templates.ran.is_empty() {
        ui.label(egui::RichText::new(&ed.library.templates.ran).small());
    }
}
