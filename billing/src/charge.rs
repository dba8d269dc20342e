//! What a finished call is charged: the formula over the provider's own usage figures where
//! it reports them (tokens, GPU seconds, characters, seconds of output), over the actual
//! output otherwise (an image's size), and the provider's own stated cost where it gives one
//! (BFL's `cost`). Quantities still unknown count at their typical value.

use serde_json::Value;
use switchyard_catalog::place::Candidate;
use switchyard_catalog::quote::{Call, quantities};
use switchyard_catalog::{Catalog, Dimension};

/// A call's charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Charge {
    /// Credits charged to the wallet.
    pub credits: i64,
    /// Of those, owed to the provider (the rest is margin).
    pub cost: i64,
    /// Whether the provider's usage figures were used.
    pub metered: bool,
}

/// Provider usage names and the dimension each one measures.
const METERED: [(&str, Dimension); 5] = [
    ("input_tokens", Dimension::InputTokens),
    ("output_tokens", Dimension::OutputTokens),
    ("predict_time_s", Dimension::GpuSeconds),
    ("characters", Dimension::Characters),
    ("duration_s", Dimension::OutputSeconds),
];

/// The charge for `call` run on `candidate`, given its metering record and the megapixels
/// of the image it made, if any.
pub fn charge(
    catalog: &Catalog,
    candidate: &Candidate,
    call: &Call,
    metering: Option<&Value>,
    output_megapixels: Option<f64>,
) -> Charge {
    let Some(model) = catalog.model(&candidate.id) else {
        return Charge { credits: 0, cost: 0, metered: false };
    };
    let mut q = quantities(call, model);
    let usage = metering.and_then(|m| m.get("metered"));
    let mut metered = false;
    for (name, dim) in METERED {
        if let Some(v) = usage.and_then(|u| u.get(name)).and_then(Value::as_f64) {
            q.insert(dim, (v, v));
            metered = true;
        }
    }
    if let Some(mp) = output_megapixels {
        q.insert(Dimension::Megapixels, (mp, mp));
    }
    for range in q.values_mut() {
        range.1 = range.0;
    }
    let stated = usage.and_then(|u| u.get("cost_usd_cents")).and_then(Value::as_f64).map(|c| c / 100.0);
    let usd = match stated {
        Some(usd) => usd,
        None => model.price.usd(&q, &call.params).map_or(0.0, |(lo, _)| lo),
    };
    let conv = &catalog.conversion;
    let credits = conv.credits(usd * candidate.price_factor).min(candidate.credits.1);
    Charge { credits, cost: conv.cost_credits(usd).min(credits), metered: metered || stated.is_some() }
}
