//! A node's live badge: where it runs, what it costs and its carbon, from the last quote.

use egui::{Color32, RichText, Ui};
use switchyard_billing::verdict::credits_text;
use switchyard_engine::{NodeSpec, ResourceClass};

use crate::canvas::look::Look;

/// Draws the badge under a node's params.
pub fn show(ui: &mut Ui, look: &Look, key: &str, spec: &NodeSpec) {
    let badge = look.quote.as_ref().and_then(|q| q.as_ref().ok()).and_then(|q| q.nodes.get(key));
    let line = match badge {
        Some(b) => {
            let text = format!("{} · {} · {:.2} gCO2eq", b.placement, credits_text(b.credits), b.gco2eq);
            ui.label(RichText::new(text).small().color(Color32::from_rgb(150, 200, 255))).on_hover_text(&b.why);
            return;
        }
        None if spec.resource != ResourceClass::Cloud => "this machine · free".to_string(),
        None => match &look.quote {
            Some(Err(why)) => format!("not placed: {why}"),
            _ => "quoting…".to_string(),
        },
    };
    ui.label(RichText::new(line).small().weak());
}
