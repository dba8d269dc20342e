//! Prices in ComfyUI's terms: each cloud node type's `/object_info` entry carries
//! `api_node: true` and a `price_badge`, the JSONata expression ComfyUI's frontend evaluates
//! to show a node's price in its own credits. The expression looks up the node's `provider`
//! widget in a table of what one call of each model costs here (quoted by the same placement
//! and pricing as a run, with the node's defaults); an empty provider (placed by the policy)
//! shows the range over every model that serves the node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::App;
use crate::lanes::Placing;
use crate::queue::prepare;

/// A badge per cloud node type.
pub(crate) type Badges = BTreeMap<String, Value>;

/// How long badges are reused: prices move with the catalog's surge and off-peak windows.
const BADGES_TTL: Duration = Duration::from_secs(60);

/// The latest badges, and when they were made.
#[derive(Default)]
pub(crate) struct Prices(tokio::sync::Mutex<Option<(Instant, Arc<Badges>)>>);

impl Prices {
    /// The badges, made at most every `BADGES_TTL` (quoting every model takes a moment).
    pub(crate) async fn badges(&self, app: &Arc<App>, tenant: &str) -> Arc<Badges> {
        let mut kept = self.0.lock().await;
        if let Some((at, badges)) = kept.as_ref()
            && at.elapsed() < BADGES_TTL
        {
            return Arc::clone(badges);
        }
        let (app, tenant) = (Arc::clone(app), tenant.to_string());
        let made = tokio::task::spawn_blocking(move || badges(&app, &tenant)).await.unwrap_or_default();
        let made = Arc::new(made);
        *kept = Some((Instant::now(), Arc::clone(&made)));
        made
    }
}

/// The quote of one call of `model` for node type `type_name`, in credits (least, most).
fn quote_one(app: &App, tenant: &str, type_name: &str, model: &str) -> Option<(i64, i64)> {
    let spec = app.registry.get(type_name)?.spec().clone();
    let mut params = serde_json::Map::new();
    params.insert("provider".into(), json!(model));
    // Only a required text is filled: an optional prompt would rule out models that take none.
    for text in ["prompt", "text"] {
        if spec.param_spec(text).is_some_and(|p| p.default.is_none()) {
            params.insert(text.into(), json!("a price check"));
        }
    }
    let mut nodes = serde_json::Map::new();
    let mut node = json!({ "type": type_name, "params": params });
    if spec.inputs.iter().any(|i| i.name == "image") {
        nodes.insert("src".into(), json!({ "type": "image.fill", "params": { "width": 1024, "height": 1024 } }));
        node["inputs"] = json!({ "image": "src.image" });
    }
    nodes.insert("call".into(), node);
    let workflow = json!({ "format": "switchyard.workflow", "version": 1, "name": "price", "nodes": nodes });
    let placing = Placing { policy: "cheapest".into(), routes: Vec::new(), price_at_s: None };
    let (_, plans) = prepare(app, tenant, &workflow.to_string(), &[], &placing, true, app.data.join("quotes")).ok()?;
    Some(switchyard_session::plan::totals(&plans).credits)
}

/// The badge of one cloud node type from its models' quotes, in US dollars.
fn badge(quotes: &BTreeMap<String, (f64, f64)>) -> Option<Value> {
    let least = quotes.values().map(|q| q.0).fold(f64::INFINITY, f64::min);
    let most = quotes.values().map(|q| q.1).fold(0.0, f64::max);
    if quotes.is_empty() {
        return None;
    }
    let table: serde_json::Map<String, Value> =
        quotes.iter().map(|(model, (lo, hi))| (model.clone(), json!([lo, hi]))).collect();
    let expr = format!(
        "($p := {}; $r := $lookup($p, widgets.provider); $r ? {{\"type\": \"range_usd\", \"min_usd\": $r[0], \
         \"max_usd\": $r[1]}} : {{\"type\": \"range_usd\", \"min_usd\": {least}, \"max_usd\": {most}}})",
        Value::Object(table)
    );
    Some(json!({
        "engine": "jsonata",
        "depends_on": { "widgets": [{ "name": "provider", "type": "STRING" }], "inputs": [], "input_groups": [] },
        "expr": expr,
    }))
}

/// Every cloud node type's badge, from the server's catalog.
pub(crate) fn badges(app: &App, tenant: &str) -> Badges {
    let usd_per_credit = app.catalog.conversion.usd_per_credit;
    let mut out = Badges::new();
    for spec in app.registry.specs().filter(|s| s.type_name.starts_with("cloud.")) {
        let capability = &spec.type_name["cloud.".len()..];
        let serving = app.catalog.models.iter().filter(|m| m.serves.iter().any(|s| s == capability));
        let quotes: BTreeMap<String, (f64, f64)> = serving
            .filter_map(|m| {
                let (lo, hi) = quote_one(app, tenant, spec.type_name, &m.id)?;
                // Credits are whole, so a micro-dollar rounding only drops float noise.
                let usd = |credits: i64| (credits as f64 * usd_per_credit * 1e6).round() / 1e6;
                Some((m.id.clone(), (usd(lo), usd(hi))))
            })
            .collect();
        if let Some(b) = badge(&quotes) {
            out.insert(spec.type_name.to_string(), b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_looks_up_the_provider_and_falls_back_to_the_whole_range() {
        let quotes = BTreeMap::from([("a:x".to_string(), (0.05, 0.05)), ("b:y".to_string(), (0.01, 0.2))]);
        let b = badge(&quotes).unwrap();
        let expr = b["expr"].as_str().unwrap();
        assert!(expr.contains(r#""a:x":[0.05,0.05]"#), "{expr}");
        assert!(expr.contains("\"min_usd\": 0.01, \"max_usd\": 0.2"), "{expr}");
        assert_eq!(b["depends_on"]["widgets"][0]["name"], "provider");
        assert!(badge(&BTreeMap::new()).is_none());
    }
}
