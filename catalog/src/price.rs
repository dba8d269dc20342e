//! Price formulas as data, never evaluated code: a base plus terms, each a rate per unit of a
//! metered dimension, optionally only for certain params (`when`), with a free allowance
//! (`above`) and progressive tiers. Credits are USD through `usd_per_credit` plus the margin,
//! rounded up to a whole credit.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A metered dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Output images.
    Images,
    /// Output megapixels (of 1024 x 1024 pixels, as providers bill them).
    Megapixels,
    /// Sampling steps.
    Steps,
    /// Seconds of output (video, audio).
    OutputSeconds,
    /// Input tokens.
    InputTokens,
    /// Output tokens.
    OutputTokens,
    /// Input characters.
    Characters,
    /// Seconds of GPU time.
    GpuSeconds,
    /// Input megabytes.
    InputMegabytes,
}

/// One band of a progressive rate: units up to `up_to` (after the previous band) at `usd`.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The band's upper bound in units; the last band has none.
    pub up_to: Option<f64>,
    /// USD per unit in this band.
    pub usd: f64,
}

/// A rate per unit of one dimension.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// What is counted.
    pub dimension: Dimension,
    /// USD per unit (when there are no tiers).
    #[serde(default)]
    pub usd: f64,
    /// Progressive bands instead of one rate.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Units included before the rate applies.
    #[serde(default)]
    pub above: f64,
    /// Whether units are rounded up to whole ones first (BFL bills whole megapixels).
    #[serde(default)]
    pub round_up: bool,
    /// Applies only when these params have these values.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
}

/// A model's price.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per call.
    #[serde(default)]
    pub base_usd: f64,
    /// Per-unit terms.
    #[serde(default)]
    pub terms: Vec<Term>,
}

/// The quantities of a call, each as a range (exact when `min == max`).
pub type Quantities = BTreeMap<Dimension, (f64, f64)>;

/// Why a price cannot be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PriceError {
    /// Every term is conditional and none matches the params.
    #[error("no price term matches its params; the catalog prices only the listed param values")]
    NoMatchingTerm,
    /// A quantity the formula needs was not given.
    #[error("the price needs a quantity of {0:?}")]
    MissingQuantity(Dimension),
}

impl Term {
    fn applies(&self, params: &BTreeMap<String, String>) -> bool {
        self.when.iter().all(|(k, v)| params.get(k) == Some(v))
    }

    /// USD for `units`.
    pub fn usd_for(&self, units: f64) -> f64 {
        let units = if self.round_up { units.ceil() } else { units };
        let billable = (units - self.above).max(0.0);
        if self.tiers.is_empty() {
            return billable * self.usd;
        }
        let (mut total, mut floor) = (0.0, 0.0);
        for tier in &self.tiers {
            let ceiling = tier.up_to.unwrap_or(f64::INFINITY);
            let band = (billable.min(ceiling) - floor).max(0.0);
            total += band * tier.usd;
            if billable <= ceiling {
                break;
            }
            floor = ceiling;
        }
        total
    }
}

impl Price {
    /// Why `params` match no term: the values given for the params the terms depend on, and
    /// the combinations the catalog prices.
    pub fn unmatched(&self, params: &BTreeMap<String, String>) -> String {
        let mut keys: Vec<&String> = self.terms.iter().flat_map(|t| t.when.keys()).collect();
        keys.sort();
        keys.dedup();
        let given: Vec<String> =
            keys.iter().map(|k| format!("{k}={}", params.get(*k).map_or("(unset)", String::as_str))).collect();
        let mut priced: Vec<String> = self
            .terms
            .iter()
            .map(|t| t.when.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
            .collect();
        priced.dedup();
        format!("no price term matches {}; the catalog prices {}", given.join(", "), priced.join("; "))
    }

    /// USD as a (min, max) range for these quantities and params.
    pub fn usd(&self, quantities: &Quantities, params: &BTreeMap<String, String>) -> Result<(f64, f64), PriceError> {
        let applicable: Vec<&Term> = self.terms.iter().filter(|t| t.applies(params)).collect();
        if applicable.is_empty() && !self.terms.is_empty() && self.terms.iter().all(|t| !t.when.is_empty()) {
            return Err(PriceError::NoMatchingTerm);
        }
        let (mut lo, mut hi) = (self.base_usd, self.base_usd);
        for term in applicable {
            let (min, max) = *quantities.get(&term.dimension).ok_or(PriceError::MissingQuantity(term.dimension))?;
            lo += term.usd_for(min);
            hi += term.usd_for(max);
        }
        Ok((lo, hi))
    }
}

/// How USD becomes credits.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    /// What one credit is worth.
    pub usd_per_credit: f64,
    /// The platform margin on provider prices, such as 0.25.
    pub margin: f64,
}

impl Conversion {
    /// Whole credits for `usd`, rounded up (a charge is never below cost plus margin).
    pub fn credits(&self, usd: f64) -> i64 {
        let exact = usd * (1.0 + self.margin) / self.usd_per_credit;
        // The epsilon keeps float noise (0.30000000000000004) from adding a credit.
        (exact - 1e-9).ceil().max(0.0) as i64
    }

    /// Whole credits owed to the provider for `usd`, without the margin.
    pub fn cost_credits(&self, usd: f64) -> i64 {
        (usd / self.usd_per_credit - 1e-9).ceil().max(0.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn progressive_tiers_charge_each_band_at_its_rate() {
        let term = Term {
            dimension: Dimension::InputMegabytes,
            usd: 0.0,
            tiers: vec![Tier { up_to: Some(10.0), usd: 0.01 }, Tier { up_to: None, usd: 0.007 }],
            above: 0.0,
            round_up: false,
            when: BTreeMap::new(),
        };
        assert!((term.usd_for(4.0) - 0.04).abs() < 1e-12);
        assert!((term.usd_for(30.0) - (0.10 + 20.0 * 0.007)).abs() < 1e-12, "30% off after the first 10 MB");
    }

    #[test]
    fn flux_2_pro_is_base_plus_extra_megapixels_and_time_priced_work_is_a_range() {
        let flux = Price {
            base_usd: 0.03,
            terms: vec![Term {
                dimension: Dimension::Megapixels,
                usd: 0.015,
                tiers: vec![],
                above: 1.0,
                round_up: true,
                when: BTreeMap::new(),
            }],
        };
        let q = Quantities::from([(Dimension::Megapixels, (3.2, 3.2))]);
        let (lo, hi) = flux.usd(&q, &BTreeMap::new()).unwrap();
        assert!((lo - 0.075).abs() < 1e-12 && lo == hi);
        let gpu = Price {
            base_usd: 0.0,
            terms: vec![Term {
                dimension: Dimension::GpuSeconds,
                usd: 0.0014,
                tiers: vec![],
                above: 0.0,
                round_up: false,
                when: BTreeMap::new(),
            }],
        };
        let (lo, hi) = gpu.usd(&Quantities::from([(Dimension::GpuSeconds, (5.0, 20.0))]), &BTreeMap::new()).unwrap();
        assert!((lo - 0.007).abs() < 1e-12 && (hi - 0.028).abs() < 1e-12);
    }

    #[test]
    fn conditional_terms_pick_by_params_and_refuse_unpriced_ones() {
        let term = |quality: &str, usd| Term {
            dimension: Dimension::Images,
            usd,
            tiers: vec![],
            above: 0.0,
            round_up: false,
            when: BTreeMap::from([("quality".to_string(), quality.to_string())]),
        };
        let price = Price { base_usd: 0.0, terms: vec![term("low", 0.011), term("high", 0.167)] };
        let q = Quantities::from([(Dimension::Images, (2.0, 2.0))]);
        assert!((price.usd(&q, &params(&[("quality", "high")])).unwrap().0 - 0.334).abs() < 1e-12);
        let medium = params(&[("quality", "medium")]);
        assert!(matches!(price.usd(&q, &medium), Err(PriceError::NoMatchingTerm)));
        assert_eq!(
            price.unmatched(&medium),
            "no price term matches quality=medium; the catalog prices quality=low; quality=high"
        );
    }

    #[test]
    fn credits_round_up_after_the_margin() {
        let c = Conversion { usd_per_credit: 0.005, margin: 0.25 };
        assert_eq!(c.credits(0.04), 10);
        assert_eq!(c.credits(0.011), 3, "2.75 rounds up");
        assert_eq!(c.credits(0.0), 0);
        assert_eq!(Conversion { usd_per_credit: 0.01, margin: 0.2 }.credits(0.25), 30, "no float noise credit");
    }
}
