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
            save_run_settings(ed);
        }
        if !ed.budget_text.trim().is_empty() && ed.budget().is_none() {
            ui.label(RichText::new("whole credits, please").color(Color32::LIGHT_RED));
        }
        deadline_and_routes(ed, ui);
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
        save_run_settings(ed);
    }
}

impl Editor {
    /// Picks the placement policy, as the status bar's picker does: saved in the file's run
    /// settings and re-quoted.
    pub fn set_policy(&mut self, policy: &str) {
        self.policy = policy.to_string();
        save_run_settings(self);
    }
}

/// The deadline (`5m`, `90s`) and the routes the run accepts.
fn deadline_and_routes(ed: &mut Editor, ui: &mut Ui) {
    let label = ui.label("deadline");
    let mut text = ed.doc.run.deadline.clone().unwrap_or_default();
    let field = egui::TextEdit::singleline(&mut text).hint_text("none").desired_width(50.0);
    if ui.add(field).labelled_by(label.id).changed() {
        ed.doc.run.deadline = Some(text.trim().to_string()).filter(|t| !t.is_empty());
        save_run_settings(ed);
    }
    if let Some(Err(e)) = ed.doc.run.deadline.as_deref().map(switchyard_session::placement::parse_duration) {
        ui.label(RichText::new(e.to_string()).color(Color32::LIGHT_RED));
    }
    for (route, hint) in [("economy", "18% off, up to 4x the ETA"), ("green", "the lowest-carbon region, 12% more")] {
        let mut on = ed.doc.run.routes.iter().any(|r| r == route);
        if ui.checkbox(&mut on, route).on_hover_text(hint).changed() {
            ed.doc.run.routes.retain(|r| r != route);
            if on {
                ed.doc.run.routes.push(route.to_string());
            }
            save_run_settings(ed);
        }
    }
}

/// The picker's and fields' values as the file's run settings: saved with it, re-quoted.
fn save_run_settings(ed: &mut Editor) {
    ed.doc.run.policy = Some(ed.policy.clone()).filter(|p| p != "cheapest");
    ed.doc.run.budget = ed.budget();
    ed.commit("run settings");
    ed.requote();
}

/// The graph's total as the status bar shows it.
pub fn total_text(ed: &Editor) -> String {
    if !ed.look.problems.is_empty() {
        return format!("total: {} problem(s)", ed.look.problems.len());
    }
    match &ed.look.quote {
        Some(Ok(q)) if q.blocked.is_some() => {
            format!("total: {} placeable so far; not placed as a whole", credits_text(q.credits))
        }
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

/// The status line after an edit: what the last action did.
pub fn edit_text(what: &str) -> String {
    match what {
        "add" => "added a node".into(),
        "delete" => "deleted".into(),
        "duplicate" => "duplicated".into(),
        "move" => "moved".into(),
        "wire" => "rewired".into(),
        "wire param" => "changed a param's wire".into(),
        "mode" => "changed a node's mode (run, bypass or mute)".into(),
        "arrange" => "arranged the graph by depth".into(),
        "paste" => "pasted".into(),
        "run settings" => "run settings changed (saved with the file)".into(),
        "reroute" => "added a reroute point".into(),
        "group move" => "moved a group with its nodes".into(),
        "group resize" => "resized a group".into(),
        "group title" => "renamed a group".into(),
        "group colour" => "recoloured a group".into(),
        "group fit" => "fitted a group to its nodes".into(),
        param if param.contains('.') => format!("set {param}"),
        other => other.to_string(),
    }
}
