//! A node's live badge: where it runs, what it costs and its carbon, from the last quote.
//! One line that never widens the node: long text is elided, the whole of it in the hover.

use egui::{Color32, RichText, Ui};
use switchyard_billing::verdict::credits_text;
use switchyard_engine::{NodeSpec, ResourceClass};

use crate::canvas::look::Look;

/// The most characters a badge shows before eliding (small text fits this in a node body).
pub const BADGE_CHARS_MAX: usize = 38;

/// `text` cut to `max` characters, ending in "…" when cut.
pub fn elide(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// The badge's text, its hover text and whether it is an error.
pub fn text(look: &Look, key: &str, spec: &NodeSpec) -> (String, String, bool) {
    let quote = look.quote.as_ref().and_then(|q| q.as_ref().ok());
    if let Some(b) = quote.and_then(|q| q.nodes.get(key)) {
        let line = match b.cached {
            true => format!("cached · 0 cr · {}", b.placement),
            false => format!("{} · {} · {:.2} gCO2eq", b.placement, credits_text(b.credits), b.gco2eq),
        };
        return (line.clone(), format!("{line}\n{}", b.why), false);
    }
    if let Some(why) = quote.and_then(|q| q.node_errors.get(key)) {
        return (format!("not placed: {why}"), why.clone(), true);
    }
    if spec.resource != ResourceClass::Cloud {
        return ("this machine · free".into(), "runs on this machine; costs no credits".into(), false);
    }
    match &look.quote {
        Some(Err(why)) => (format!("not placed: {why}"), why.clone(), true),
        _ if look.has_problems(key) => {
            ("not quoted: fix this node first".into(), "fix the problems in red".into(), true)
        }
        Some(Ok(_)) => ("not quoted: an input's node has a problem".into(), "fix the node upstream".into(), false),
        None => ("quoting…".into(), "waiting for the quote of the latest edit".into(), false),
    }
}

/// Draws the badge under a node's params: one line, elided to the node's width.
pub fn show(ui: &mut Ui, look: &Look, key: &str, spec: &NodeSpec) {
    let (line, hover, error) = text(look, key, spec);
    let color = if error { Color32::LIGHT_RED } else { Color32::from_rgb(150, 200, 255) };
    // Elided by characters, not by the layout's width: a node body has no fixed width for
    // egui's truncation to work against, so that would widen the node instead.
    let text = RichText::new(elide(&line, BADGE_CHARS_MAX)).small().color(color);
    ui.add(egui::Label::new(text).wrap_mode(egui::TextWrapMode::Extend)).on_hover_text(hover);
}
