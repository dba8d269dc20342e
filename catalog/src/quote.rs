//! Pricing a call before it runs: the quantities a node's params imply, its credits (exact,
//! or a range for work priced by time or by an input size not known yet), ETA and estimated
//! gCO2eq, and the cheapest other model that could serve it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::price::{Dimension, PriceError, Quantities};
use crate::{Catalog, Model};

/// One cloud call to price.
#[derive(Clone, Debug)]
pub struct Call {
    /// The node id.
    pub node: String,
    /// Its capability (`text_to_image`, ...).
    pub capability: String,
    /// `provider:model`, as the node's `provider` param says.
    pub model: String,
    /// Its params as text (`quality = "low"`, `width = "1024"`).
    pub params: BTreeMap<String, String>,
}

/// A priced call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeQuote {
    /// The node id.
    pub node: String,
    /// `provider:model@region`.
    pub placement: String,
    /// Credits, least and most.
    pub credits: (i64, i64),
    /// Seconds, typical and worst.
    pub eta_s: (f64, f64),
    /// Estimated grams of CO2eq at the typical time.
    pub gco2eq: f64,
    /// Why this placement, naming the runner-up and its cost.
    pub why: String,
}

/// Why a call cannot be priced.
#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    /// The model is not in the catalog.
    #[error("{node}: {model} is not in the catalog; models for {capability}: {known}")]
    UnknownModel {
        /// The node.
        node: String,
        /// The model asked for.
        model: String,
        /// The capability.
        capability: String,
        /// Models that serve it.
        known: String,
    },
    /// The formula cannot price these params.
    #[error("{node}: {model}: {source}")]
    Price {
        /// The node.
        node: String,
        /// The model.
        model: String,
        /// Why.
        source: PriceError,
    },
}

impl Call {
    /// A call from a node's params; `size` (`WxH`) is derived from width and height, as
    /// size-priced models (OpenAI) take it.
    pub fn new(node: &str, capability: &str, model: &str, mut params: BTreeMap<String, String>) -> Self {
        if let (Some(w), Some(h)) = (params.get("width"), params.get("height")) {
            let size = format!("{w}x{h}");
            params.entry("size".into()).or_insert(size);
        }
        Self { node: node.into(), capability: capability.into(), model: model.into(), params }
    }
}

/// A whole graph's quote.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Credits, least and most.
    pub credits: (i64, i64),
    /// Estimated gCO2eq.
    pub gco2eq: f64,
    /// The longest path of typical times through the graph (cloud calls; local work counts 0
    /// until local timing estimates exist).
    pub makespan_s: f64,
}

/// Sums a graph's quotes: nodes in topological order, each with its quote (`None` for local
/// work) and the indices of its upstream nodes.
pub fn totals(nodes: &[(Option<&NodeQuote>, Vec<usize>)]) -> Totals {
    let mut t = Totals::default();
    let mut finish = vec![0.0f64; nodes.len()];
    for (i, (quote, upstream)) in nodes.iter().enumerate() {
        let start = upstream.iter().filter_map(|u| finish.get(*u)).fold(0.0f64, |a, b| a.max(*b));
        let own = quote.map_or(0.0, |q| q.eta_s.0);
        finish[i] = start + own;
        if let Some(q) = quote {
            t.credits = (t.credits.0 + q.credits.0, t.credits.1 + q.credits.1);
            t.gco2eq += q.gco2eq;
        }
    }
    t.makespan_s = finish.iter().fold(0.0, |a, b| a.max(*b));
    t
}

fn num(params: &BTreeMap<String, String>, name: &str) -> Option<f64> {
    params.get(name).and_then(|v| v.parse().ok())
}

/// The quantities `call`'s params imply. Sizes of images that arrive on wires are not known
/// before the run, so they are a range (a quarter of a megapixel to 16).
pub fn quantities(call: &Call, model: &Model) -> Quantities {
    let mut q = call_quantities(call);
    q.insert(Dimension::GpuSeconds, (model.latency.typical_s, model.latency.max_s));
    q
}

/// The quantities that do not depend on the model (all but GPU time).
fn call_quantities(call: &Call) -> Quantities {
    let p = &call.params;
    let exact = |v: f64| (v, v);
    let mp = match (num(p, "width"), num(p, "height")) {
        (Some(w), Some(h)) => exact(w * h / 1_048_576.0),
        _ => {
            let scale = num(p, "scale").unwrap_or(1.0);
            (0.25 * scale * scale, 16.0 * scale * scale)
        }
    };
    Quantities::from([
        (Dimension::Images, exact(1.0)),
        (Dimension::Megapixels, mp),
        (Dimension::Steps, exact(num(p, "steps").filter(|s| *s > 0.0).unwrap_or(28.0))),
        (Dimension::OutputSeconds, exact(num(p, "duration_s").unwrap_or(5.0))),
        (Dimension::Characters, exact(p.get("text").or(p.get("prompt")).map_or(0, |t| t.chars().count()) as f64)),
        (Dimension::InputTokens, exact((p.get("prompt").map_or(0, String::len) as f64 / 4.0).ceil())),
        (Dimension::OutputTokens, (0.0, 6_240.0)),
        (Dimension::InputMegabytes, (0.0, 64.0)),
    ])
}

impl Catalog {
    /// Credits (least, most) for `call` on `model`, given the call's own quantities.
    fn credits(&self, call: &Call, q: &mut Quantities, model: &Model) -> Result<(i64, i64), PriceError> {
        q.insert(Dimension::GpuSeconds, (model.latency.typical_s, model.latency.max_s));
        let (lo, hi) = model.price.usd(q, &call.params)?;
        Ok((self.conversion.credits(lo), self.conversion.credits(hi)))
    }

    /// Estimated grams of CO2eq for a typical call on `model` in its first region.
    pub fn gco2eq(&self, model: &Model) -> f64 {
        let region = model.regions.first().and_then(|r| self.region(r));
        region.map_or(0.0, |r| model.power_kw * model.latency.typical_s / 3600.0 * r.pue * r.gco2eq_per_kwh)
    }

    /// Prices `call` on the model it names, and finds the cheapest other model serving its
    /// capability as the runner-up.
    pub fn quote(&self, call: &Call) -> Result<NodeQuote, QuoteError> {
        let serving: Vec<&Model> = self.models.iter().filter(|m| m.serves.contains(&call.capability)).collect();
        let Some(model) = serving.iter().find(|m| m.id == call.model) else {
            return Err(QuoteError::UnknownModel {
                node: call.node.clone(),
                model: call.model.clone(),
                capability: call.capability.clone(),
                known: serving.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "),
            });
        };
        let price_error = |source| QuoteError::Price { node: call.node.clone(), model: model.id.clone(), source };
        let mut q = call_quantities(call);
        let credits = self.credits(call, &mut q, model).map_err(price_error)?;
        let runner_up = serving
            .iter()
            .filter(|m| m.id != model.id)
            .filter_map(|m| self.credits(call, &mut q, m).ok().map(|c| (m.id.as_str(), c)))
            .min_by_key(|(_, c)| c.1);
        let why = match runner_up {
            Some((id, (lo, hi))) if lo == hi => format!("pinned in the workflow; cheapest other: {id} at {hi} cr"),
            Some((id, (lo, hi))) => format!("pinned in the workflow; cheapest other: {id} at {lo}-{hi} cr"),
            None => "pinned in the workflow; no other model serves this".into(),
        };
        let region = model.regions.first().map_or("", String::as_str);
        Ok(NodeQuote {
            node: call.node.clone(),
            placement: format!("{}@{region}", model.id),
            credits,
            eta_s: (model.latency.typical_s, model.latency.max_s),
            gco2eq: self.gco2eq(model),
            why,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(capability: &str, model: &str, params: &[(&str, &str)]) -> Call {
        Call::new("gen", capability, model, params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn quotes_follow_the_published_prices() {
        let c = Catalog::builtin();
        let q = c
            .quote(&call(
                "text_to_image",
                "openai:gpt-image-1",
                &[("quality", "low"), ("width", "1024"), ("height", "1024")],
            ))
            .unwrap();
        assert_eq!(q.credits, (3, 3), "$0.011 with 25% margin at $0.005 is 2.75, rounded up");
        assert!(q.why.contains("cheapest other: luma:photon-flash-1 at 1 cr"), "{}", q.why);
        let flux = c.quote(&call("text_to_image", "bfl:flux-2-pro", &[("width", "2048"), ("height", "2048")])).unwrap();
        assert_eq!(flux.credits, (19, 19), "$0.03 + 3 extra whole MP x $0.015 = $0.075");
        let video = c.quote(&call("image_to_video", "runway:gen4_turbo", &[("duration_s", "10")])).unwrap();
        assert_eq!(video.credits, (125, 125));
        assert!(video.gco2eq > 0.0 && video.placement == "runway:gen4_turbo@runway-us");
        let upscale = c.quote(&call("upscale", "replicate:nightmareai/real-esrgan", &[("scale", "4")])).unwrap();
        assert!(upscale.credits.0 < upscale.credits.1, "time-priced work is a range: {:?}", upscale.credits);
    }

    #[test]
    fn totals_add_credits_and_take_the_longest_path() {
        let q = |eta, cr| NodeQuote {
            node: "n".into(),
            placement: "p".into(),
            credits: (cr, cr + 1),
            eta_s: (eta, eta),
            gco2eq: 1.0,
            why: String::new(),
        };
        let (a, b, c) = (q(10.0, 5), q(30.0, 7), q(5.0, 1));
        let nodes = [(Some(&a), vec![]), (Some(&b), vec![]), (None, vec![0]), (Some(&c), vec![2, 0])];
        let t = totals(&nodes);
        assert_eq!((t.credits, t.gco2eq, t.makespan_s), ((13, 16), 3.0, 30.0));
    }

    #[test]
    fn unknown_models_and_unpriced_params_are_named() {
        let c = Catalog::builtin();
        let err = c.quote(&call("image_to_video", "openai:gpt-image-1", &[])).unwrap_err().to_string();
        assert!(err.contains("openai:gpt-image-1 is not in the catalog; models for image_to_video: fal:"), "{err}");
        let err = c
            .quote(&call("text_to_image", "openai:gpt-image-1", &[("quality", "low"), ("size", "512x512")]))
            .unwrap_err();
        assert!(err.to_string().contains("no price term matches"), "{err}");
    }
}
