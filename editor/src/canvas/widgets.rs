//! Param widgets that follow each param's declared kind: sliders and drag values within its
//! range, combos for choices, a file picker for paths, seeds with a randomise button, and
//! multi-line boxes for prompts.

use egui::{Color32, RichText, Ui};
use serde_json::Value;
use switchyard_engine::format::FileMap;
use switchyard_engine::{ParamKind, ParamSpec};

/// Ranges up to this wide get a slider; wider ones a drag value.
const SLIDER_SPAN: f64 = 4096.0;

/// What a widget did this frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct WidgetOut {
    /// The param's value changed.
    pub changed: bool,
    /// The user asked for the file picker.
    pub pick_file: bool,
}

/// Draws the widget for `spec`, reading and writing `params` (the node's params as saved).
/// `choices` replaces a free text field with a combo (the provider picker).
pub fn param_widget(
    ui: &mut Ui,
    key: &str,
    spec: &ParamSpec,
    params: &mut FileMap<Value>,
    choices: Option<&Vec<String>>,
    problem: Option<String>,
) -> WidgetOut {
    let current = params.get(spec.name).cloned().or_else(|| spec.default.as_ref().map(|d| d.to_json()));
    let mut value = current.clone().unwrap_or(Value::Null);
    let mut out = WidgetOut::default();
    ui.horizontal(|ui| {
        if matches!(spec.kind, ParamKind::Bool) {
            let mut b = value.as_bool().unwrap_or(false);
            ui.checkbox(&mut b, spec.name).on_hover_text(spec.description);
            value = Value::Bool(b);
            return;
        }
        let label = ui.label(spec.name).on_hover_text(spec.description);
        let id = egui::Id::new((key, spec.name));
        match (&spec.kind, choices) {
            (_, Some(models)) => provider_combo(ui, id, &mut value, models),
            (ParamKind::Int { min, max }, _) => int_widget(ui, &mut value, *min, *max, label.id),
            (ParamKind::Seed, _) => {
                int_widget(ui, &mut value, 0, ParamKind::SEED_MAX, label.id);
                if ui.button("🎲").on_hover_text("randomise the seed").clicked() {
                    value = Value::from(rand::random_range(0..=ParamKind::SEED_MAX));
                }
            }
            (ParamKind::Float { min, max }, _) => float_widget(ui, &mut value, *min, *max, label.id),
            (ParamKind::Text { multiline, max_len }, _) => text_widget(ui, &mut value, *multiline, *max_len, label.id),
            (ParamKind::Choice { options }, _) => choice_combo(ui, id, &mut value, options),
            (ParamKind::Path { .. }, _) => {
                text_widget(ui, &mut value, false, 4096, label.id);
                out.pick_file = ui.button("…").on_hover_text("choose a file").clicked();
            }
            (ParamKind::Bool, _) => {}
        }
    });
    if let Some(problem) = problem {
        ui.label(RichText::new(problem).small().color(Color32::LIGHT_RED));
    }
    if current.as_ref() != Some(&value) && !(current.is_none() && value == Value::Null) {
        params.insert(spec.name.to_string(), value);
        out.changed = true;
    }
    out
}

fn int_widget(ui: &mut Ui, value: &mut Value, min: i64, max: i64, label: egui::Id) {
    let mut v = value.as_i64().unwrap_or(min.max(0)).clamp(min, max);
    let r = if (max as f64 - min as f64) <= SLIDER_SPAN {
        ui.add(egui::Slider::new(&mut v, min..=max)).labelled_by(label)
    } else {
        ui.add(egui::DragValue::new(&mut v).range(min..=max)).labelled_by(label)
    };
    // Written only when the user moves it: a required param stays unset, and a file's value
    // stays as written.
    if r.changed() {
        *value = Value::from(v);
    }
}

fn float_widget(ui: &mut Ui, value: &mut Value, min: f64, max: f64, label: egui::Id) {
    let mut v = value.as_f64().unwrap_or(min.max(0.0)).clamp(min, max);
    let r = if (max - min) <= SLIDER_SPAN {
        ui.add(egui::Slider::new(&mut v, min..=max)).labelled_by(label)
    } else {
        ui.add(egui::DragValue::new(&mut v).range(min..=max).speed(0.01)).labelled_by(label)
    };
    if let Some(n) = serde_json::Number::from_f64(v).filter(|_| r.changed()) {
        *value = Value::Number(n);
    }
}

fn text_widget(ui: &mut Ui, value: &mut Value, multiline: bool, max_len: usize, label: egui::Id) {
    let mut text = value.as_str().unwrap_or_default().to_string();
    let edit = if multiline {
        egui::TextEdit::multiline(&mut text).desired_rows(2)
    } else {
        egui::TextEdit::singleline(&mut text)
    };
    ui.add(edit.char_limit(max_len).desired_width(130.0)).labelled_by(label);
    if text != value.as_str().unwrap_or_default() {
        *value = Value::String(text);
    }
}

fn choice_combo(ui: &mut Ui, id: egui::Id, value: &mut Value, options: &[&str]) {
    let mut picked = value.as_str().unwrap_or_default().to_string();
    egui::ComboBox::from_id_salt(id).selected_text(&picked).show_ui(ui, |ui| {
        for o in options {
            ui.selectable_value(&mut picked, (*o).to_string(), *o);
        }
    });
    if picked != value.as_str().unwrap_or_default() {
        *value = Value::String(picked);
    }
}

fn provider_combo(ui: &mut Ui, id: egui::Id, value: &mut Value, models: &[String]) {
    let mut picked = value.as_str().unwrap_or_default().to_string();
    let shown = if picked.is_empty() { "by policy".to_string() } else { picked.clone() };
    egui::ComboBox::from_id_salt(id).selected_text(shown).show_ui(ui, |ui| {
        ui.selectable_value(&mut picked, String::new(), "by policy");
        for m in models {
            ui.selectable_value(&mut picked, m.clone(), m);
        }
    });
    if picked != value.as_str().unwrap_or_default() {
        *value = Value::String(picked);
    }
}
