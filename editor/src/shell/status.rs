//! The status bar: Run and Cancel, the policy picker, the budget, the graph's total and the
//! wallet's balance, with a flag when a run would overspend; and a run's ending.

use egui::{Color32, RichText, Ui};

use super::editor::{Editor, POLICIES};
use switchyard_billing::verdict::credits_text;

/// Draws the status bar.
pub fn bar(ed: &mut Editor, ui: &mut Ui) {
    ui.horizontal_wrapped(|ui| {
        let blocker = ed.run_blocker();
        let label = if ed.connected.is_some() { "▶ Run on server" } else { "▶ Run" };
        let run = ui.add_enabled(blocker.is_none(), egui::Button::new(label));
        if let Some(why) = &blocker {
            run.clone().on_disabled_hover_text(why);
        }
        if run.clicked() {
            ed.run();
        }
        if ui.add_enabled(ed.running, egui::Button::new("■ Cancel")).clicked() {
            ed.cancel();
        }
        ui.separator();
        policy_picker(ed, ui);
        let label = ui.label("budget");
        let field = egui::TextEdit::singleline(&mut ed.budget_text).hint_text("none").desired_width(60.0);
        if ui.add(field).labelled_by(label.id).changed() {
            ed.requote();
        }
        if !ed.budget_text.trim().is_empty() && ed.budget().is_none() {
            ui.label(RichText::new("whole credits, please").color(Color32::LIGHT_RED));
        }
        ui.separator();
        ui.label(total_text(ed));
        ui.label(balance_text(ed));
        if let Some(flag) = ed.over_budget() {
            ui.label(RichText::new(format!("⚠ {flag}")).color(Color32::from_rgb(255, 120, 90)).strong());
        }
        ui.separator();
        if let Some(what) = &ed.connected {
            ui.label(RichText::new(format!("🖧 {what}")).color(Color32::LIGHT_BLUE));
        }
        ui.label(&ed.status);
    });
}

fn policy_picker(ed: &mut Editor, ui: &mut Ui) {
    let before = ed.policy.clone();
    egui::ComboBox::from_label("policy").selected_text(&ed.policy).show_ui(ui, |ui| {
        for p in POLICIES {
            ui.selectable_value(&mut ed.policy, (*p).to_string(), *p);
        }
    });
    if ed.policy != before {
        ed.requote();
    }
}

/// The graph's total as the status bar shows it.
pub fn total_text(ed: &Editor) -> String {
    if !ed.look.problems.is_empty() {
        return format!("total: {} problem(s)", ed.look.problems.len());
    }
    match &ed.look.quote {
        Some(Ok(q)) => format!("total: {} · {:.2} gCO2eq · ~{:.0} s", credits_text(q.credits), q.gco2eq, q.makespan_s),
        Some(Err(why)) => format!("total: not placed ({why})"),
        None => "total: quoting…".into(),
    }
}

fn balance_text(ed: &Editor) -> String {
    match &ed.balance {
        Some(Ok(c)) => format!("balance: {c} cr"),
        Some(Err(_)) => "balance: no wallet (unbilled)".into(),
        None => "balance: …".into(),
    }
}
