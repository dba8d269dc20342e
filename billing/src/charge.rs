//! What a finished call is charged: the formula over the provider's own usage figures where
//! it reports them (tokens, GPU seconds, characters, seconds of output), over the actual
//! output otherwise (an image's size), and the provider's own stated cost where it gives one
//! (BFL's `cost`). Quantities still unknown count at their typical value.

use switchyard_catalog::place::Candidate;
use switchyard_catalog::quote::{Call, quantities};
use switchyard_catalog::{Catalog, Dimension};
use switchyard_engine::CallRecord;

/// A call's charge.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Charge {
    /// Credits charged to the wallet.
    pub credits: i64,
    /// Of those, owed to the provider (the rest is margin).
    pub cost: i64,
    /// Whether the provider's usage figures were used.
    pub metered: bool,
    /// Why the charge needs a person's look (figures from the provider that were not
    /// trusted), kept on the hold for reconciliation.
    pub review: Option<String>,
}

impl Charge {
    /// Nothing charged.
    pub fn nothing() -> Self {
        Self { credits: 0, cost: 0, metered: false, review: None }
    }
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
    record: Option<&CallRecord>,
    output_megapixels: Option<f64>,
) -> Charge {
    let Some(model) = catalog.model(&candidate.id) else {
        return Charge::nothing();
    };
    let mut q = quantities(call, model);
    let usage = record.map(|r| &r.metered);
    let mut metered = false;
    let mut distrusted: Vec<String> = Vec::new();
    for (name, dim) in METERED {
        match usage.and_then(|u| u.get(name)).copied() {
            Some(v) if v.is_finite() && v >= 0.0 => {
                q.insert(dim, (v, v));
                metered = true;
            }
            Some(v) => distrusted.push(format!("{name} {v}")),
            None => {}
        }
    }
    if let Some(mp) = output_megapixels {
        q.insert(Dimension::Megapixels, (mp, mp));
    }
    for range in q.values_mut() {
        range.1 = range.0;
    }
    // A provider's stated cost is trusted only when positive: zero or less would let a
    // faulty or hostile reply make a paid call free, so the formula charges it instead.
    let stated = match usage.and_then(|u| u.get("cost_usd_cents")).copied() {
        Some(c) if c.is_finite() && c > 0.0 => Some(c / 100.0),
        Some(c) => {
            distrusted.push(format!("cost_usd_cents {c}"));
            None
        }
        None => None,
    };
    let usd = match stated {
        Some(usd) => usd,
        None => model.price.usd(&q, &call.params).map_or(0.0, |(lo, _)| lo),
    };
    let conv = &catalog.conversion;
    let credits = conv.credits(usd * candidate.price_factor).min(candidate.credits.1);
    let review = (!distrusted.is_empty())
        .then(|| format!("provider reported {}; charged by the catalog formula", distrusted.join(", ")));
    Charge { credits, cost: conv.cost_credits(usd).min(credits), metered: metered || stated.is_some(), review }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, most: i64) -> Candidate {
        Candidate {
            id: id.into(),
            placement: id.into(),
            credits: (1, most),
            eta_s: (5.0, 60.0),
            gco2eq: 0.1,
            price_factor: 1.0,
        }
    }

    fn usage(name: &str, value: f64) -> CallRecord {
        let mut r = CallRecord::default();
        r.metered.insert(name.into(), value);
        r
    }

    fn call(capability: &str, model: &str, params: &[(&str, &str)]) -> Call {
        Call::new("n", capability, model, params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn charges_follow_the_providers_figures_and_never_pass_the_hold() {
        let catalog = Catalog::builtin();
        let flux = call("text_to_image", "bfl:flux-2-pro", &[("width", "1024"), ("height", "1024")]);
        let stated = |cents: f64| usage("cost_usd_cents", cents);
        let c = charge(&catalog, &candidate("bfl:flux-2-pro", 40), &flux, Some(&stated(3.0)), None);
        assert_eq!((c.credits, c.cost, c.metered), (8, 6, true), "$0.03 is 6 cr at cost, 7.5 with the margin");
        let c = charge(&catalog, &candidate("bfl:flux-2-pro", 5), &flux, Some(&stated(3.0)), None);
        assert_eq!((c.credits, c.cost), (5, 5), "never more than the hold");
        let esrgan = call("upscale", "replicate:nightmareai/real-esrgan", &[("scale", "4")]);
        let timed = |s: f64| usage("predict_time_s", s);
        let cand = candidate("replicate:nightmareai/real-esrgan", 1_000);
        let (short, long) = (
            charge(&catalog, &cand, &esrgan, Some(&timed(1.0)), None),
            charge(&catalog, &cand, &esrgan, Some(&timed(30.0)), None),
        );
        assert!(short.credits < long.credits && long.metered, "GPU time is billed as metered: {short:?} {long:?}");
        let unmetered = charge(
            &catalog,
            &candidate("recraft:remove-background", 10),
            &call("remove_background", "recraft:remove-background", &[]),
            None,
            Some(1.0),
        );
        assert!(!unmetered.metered && unmetered.credits > 0, "the formula over the output: {unmetered:?}");
    }

    /// Regression (issue 13): a provider reporting a zero or negative cost (or usage) made
    /// a paid call free. Such figures are distrusted: the formula charges, and the charge is
    /// flagged for review.
    #[test]
    fn provider_reported_negative_or_zero_costs_are_charged_by_the_formula_and_flagged() {
        let catalog = Catalog::builtin();
        let flux = call("text_to_image", "bfl:flux-2-pro", &[("width", "1024"), ("height", "1024")]);
        let cand = candidate("bfl:flux-2-pro", 40);
        let formula = charge(&catalog, &cand, &flux, None, None);
        assert!(formula.credits > 0 && formula.review.is_none(), "{formula:?}");
        for cents in [0.0, -3.0, -1e300] {
            let m = usage("cost_usd_cents", cents);
            let c = charge(&catalog, &cand, &flux, Some(&m), None);
            assert_eq!(c.credits, formula.credits, "{cents}");
            assert!(c.review.as_deref().is_some_and(|r| r.contains("cost_usd_cents")), "{c:?}");
        }
        let esrgan = call("upscale", "replicate:nightmareai/real-esrgan", &[("scale", "4")]);
        let cand = candidate("replicate:nightmareai/real-esrgan", 1_000);
        let m = usage("predict_time_s", -30.0);
        let c = charge(&catalog, &cand, &esrgan, Some(&m), None);
        assert!(c.credits > 0 && c.review.is_some(), "{c:?}");
    }
}
