//! The status bar: Run and Cancel, the policy picker, the budget, the graph's total and the
//! wallet's balance, with a flag when a run would overspend; and a run's ending.

use egui::{Color32, RichText, Ui};

use crate::app::{Editor, POLICIES};
use crate::look::NodeRun;
use crate::run::Finished;
use switchyard_billing::verdict::credits_text;
use switchyard_billing::{Over, Verdict};

/// Why the graph cannot run now, if it cannot.
pub fn run_blocker(ed: &Editor) -> Option<String> {
    if ed.running {
        return Some("a run is going".into());
    }
    if ed.doc.snarl.nodes().next().is_none() {
        return Some("the graph is empty".into());
    }
    if ed.look.checked_rev != Some(ed.rev) {
        return Some("checking and quoting the latest edit".into());
    }
    if !ed.look.problems.is_empty() {
        return Some(format!("{} problem(s) to fix first; they are marked on the nodes", ed.look.problems.len()));
    }
    over_budget(ed)
}

/// The flag for a quote over the balance or the budget (the command line's verdict).
pub fn over_budget(ed: &Editor) -> Option<String> {
    let most = ed.look.quote.as_ref()?.as_ref().ok()?.credits.1;
    let available = ed.balance.as_ref().and_then(|b| b.as_ref().ok()).copied();
    Some(match Verdict::new(most, available, ed.budget()).over()? {
        Over::Balance(a) => format!("over balance: up to {most} cr, {a} cr available"),
        Over::Budget(b) => format!("over budget: up to {most} cr against a budget of {b} cr"),
        Over::MemberCap { member, left } => format!("over {member}'s cap: up to {most} cr, {left} cr left"),
    })
}

/// Draws the status bar.
pub fn bar(ed: &mut Editor, ui: &mut Ui) {
    ui.horizontal_wrapped(|ui| {
        let blocker = run_blocker(ed);
        let run = ui.add_enabled(blocker.is_none(), egui::Button::new("▶ Run"));
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
        if let Some(flag) = over_budget(ed) {
            ui.label(RichText::new(format!("⚠ {flag}")).color(Color32::from_rgb(255, 120, 90)).strong());
        }
        ui.separator();
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

/// A run ended: node states, previews as textures, and the status line.
pub fn finished(ed: &mut Editor, ctx: &egui::Context, done: Finished) {
    ed.running = false;
    for (key, status, error) in &done.nodes {
        if let (switchyard_engine::NodeStatus::Failed, Some(e)) = (status, error) {
            ed.look.runs.insert(key.clone(), NodeRun::Failed(e.clone()));
        }
    }
    for (key, p) in done.previews {
        let image = egui::ColorImage::from_rgba_unmultiplied(p.size, &p.rgba);
        let texture = ctx.load_texture(format!("preview-{key}"), image, egui::TextureOptions::LINEAR);
        ed.look.previews.insert(key, (texture, p.source_size));
    }
    let failed = done.nodes.iter().filter(|n| n.1 == switchyard_engine::NodeStatus::Failed).count();
    let charged = done.charged.map(|c| format!(", charged {c} cr")).unwrap_or_default();
    ed.status = format!(
        "{} in {} ms, {failed} failed{charged}",
        crate::backend::run_status_text(done.status),
        done.duration_ms
    );
    ed.refresh_balance();
}
