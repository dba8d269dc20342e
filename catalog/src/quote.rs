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
    /// The same request was paid for before and its kept result will be reused: the
    /// credits, ETA and gCO2eq are then 0 (a display mark; admission still holds the price,
    /// in case the kept result is gone by the time the node runs).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

impl NodeQuote {
    /// Marks the quote as served from a kept result: nothing to pay, nothing to wait for.
    pub fn mark_cached(&mut self) {
        self.credits = (0, 0);
        self.eta_s = (0.0, 0.0);
        self.gco2eq = 0.0;
        self.cached = true;
        self.why = "cached: this exact request was paid for before, and its kept result is reused".into();
    }
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
    /// The same path with each call's worst time.
    pub makespan_worst_s: f64,
}

/// An ETA as people read it: `ETA 3-20 s`, `ETA ~5 s`, or, for work with no estimate (local
/// nodes until local timing exists), `no ETA`.
pub fn eta_text((typical_s, worst_s): (f64, f64)) -> String {
    let (lo, hi) = (typical_s.round(), worst_s.max(typical_s).round());
    if worst_s <= 0.0 {
        "no ETA".to_string()
    } else if hi < 1.0 {
        "ETA under 1 s".to_string()
    } else if lo == hi {
        format!("ETA ~{hi:.0} s")
    } else {
        format!("ETA {lo:.0}-{hi:.0} s")
    }
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
pub(crate) fn call_quantities(call: &Call) -> Quantities {
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
    /// USD (least, most) for `call` on `model`, given the call's own quantities.
    pub(crate) fn usd(&self, call: &Call, q: &mut Quantities, model: &Model) -> Result<(f64, f64), PriceError> {
        q.insert(Dimension::GpuSeconds, (model.latency.typical_s, model.latency.max_s));
        model.price.usd(q, &call.params)
    }
}

#[cfg(test)]
mod tests {
    use crate::place::{Need, Options, Prefs};

    use super::*;

    #[test]
    fn etas_read_as_people_say_them() {
        let cases = [
            ((0.0, 0.0), "no ETA"),
            ((0.0, 0.3), "ETA under 1 s"),
            ((3.0, 20.0), "ETA 3-20 s"),
            ((5.0, 5.2), "ETA ~5 s"),
            ((60.0, 300.0), "ETA 60-300 s"),
            ((8.0, 2.0), "ETA ~8 s"), // a worst below the typical is read as the typical
        ];
        for (eta, text) in cases {
            assert_eq!(eta_text(eta), text, "{eta:?}");
        }
    }

    /// Prices `model` pinned, at a time with no surge or off-peak window.
    fn quote(capability: &str, model: &str, params: &[(&str, &str)]) -> Result<NodeQuote, String> {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let need = Need {
            call: Call::new("gen", capability, model, params),
            set: Default::default(),
            prefs: Prefs::default(),
            final_quality: false,
        };
        let opts = Options::new(crate::place::Policy::Cheapest, 1_763_553_600);
        let plan = Catalog::builtin().plan(&[(Some(need), vec![])], &opts).map_err(|e| e.to_string())?;
        Ok(plan.nodes.into_iter().flatten().next().unwrap().quote)
    }

    #[test]
    fn quotes_follow_the_published_prices() {
        let q =
            quote("text_to_image", "openai:gpt-image-1", &[("quality", "low"), ("width", "1024"), ("height", "1024")])
                .unwrap();
        assert_eq!(q.credits, (3, 3), "$0.011 with 25% margin at $0.005 is 2.75, rounded up");
        assert!(q.why.contains("runner-up luma:photon-flash-1@luma-us at 1 cr"), "{}", q.why);
        let flux = quote("text_to_image", "bfl:flux-2-pro", &[("width", "2048"), ("height", "2048")]).unwrap();
        assert_eq!(flux.credits, (19, 19), "$0.03 + 3 extra whole MP x $0.015 = $0.075");
        let video = quote("image_to_video", "runway:gen4_turbo", &[("duration_s", "10")]).unwrap();
        assert_eq!(video.credits, (125, 125));
        assert!(video.gco2eq > 0.0 && video.placement == "runway:gen4_turbo@runway-us");
        let upscale = quote("upscale", "replicate:nightmareai/real-esrgan", &[("scale", "4")]).unwrap();
        assert!(upscale.credits.0 < upscale.credits.1, "time-priced work is a range: {:?}", upscale.credits);
    }

    #[test]
    fn unknown_models_and_unpriced_params_are_named() {
        let err = quote("image_to_video", "openai:gpt-image-1", &[]).unwrap_err();
        assert!(err.contains("openai:gpt-image-1: does not serve image_to_video; these do: fal:"), "{err}");
        let err = quote("text_to_image", "openai:gpt-image-1", &[("quality", "low"), ("size", "512x512")]).unwrap_err();
        assert!(err.contains("no price term matches"), "{err}");
    }
}
