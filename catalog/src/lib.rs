//! The provider catalog as data (`data/catalog.toml`, overridable by the user): every model
//! with the capabilities it serves, its compute brand, regions (each with its grid's carbon
//! intensity from `data/carbon-intensity.csv`, and a PUE), typical and worst latency, the
//! licences it needs, and its price formula ([`price`]). A catalog is checked when loaded;
//! every problem names the model and field.

pub mod modifiers;
pub mod place;
pub mod price;
pub mod quote;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use modifiers::{Route, RouteTerms, Routes, Window};
pub use price::{Conversion, Dimension, Price, PriceError, Quantities};

/// The capabilities a model may serve (the `cloud.*` node names).
pub const CAPABILITIES: &[&str] =
    &["text_to_image", "image_to_image", "upscale", "remove_background", "image_to_video", "text_to_speech"];

/// The shipped catalog.
pub const BUILTIN: &str = include_str!("../data/catalog.toml");
/// The shipped grid carbon intensities, with sources.
pub const CARBON_CSV: &str = include_str!("../data/carbon-intensity.csv");

/// The compute brand behind a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Brand {
    /// NVIDIA GPUs.
    Nvidia,
    /// Google TPUs.
    GoogleTpu,
    /// AMD GPUs.
    Amd,
}

impl std::fmt::Display for Brand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Brand::Nvidia => "NVIDIA",
            Brand::GoogleTpu => "Google TPU",
            Brand::Amd => "AMD",
        })
    }
}

/// Expected seconds per call.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Usual.
    pub typical_s: f64,
    /// Worst seen.
    pub max_s: f64,
}

/// A region a model runs in.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Its name in the catalog, such as `bfl-eu`.
    pub id: String,
    /// The grid it draws from, as `provider:region` in the carbon table.
    pub grid: String,
    /// Power usage effectiveness of the data centre.
    pub pue: f64,
    /// gCO2eq per kWh, filled from the carbon table.
    #[serde(skip)]
    pub gco2eq_per_kwh: f64,
}

/// One model on one provider.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `provider:model`.
    pub id: String,
    /// What it makes.
    pub serves: Vec<String>,
    /// Whose accelerators.
    pub brand: Brand,
    /// Where it runs.
    pub regions: Vec<String>,
    /// How long a call takes.
    pub latency: Latency,
    /// Accelerator power while it works, in kW (for the carbon estimate).
    pub power_kw: f64,
    /// Licences the user must hold.
    #[serde(default)]
    pub licences: Vec<String>,
    /// Params it takes only certain values of (`scale = ["4"]`).
    #[serde(default)]
    pub accepts: BTreeMap<String, Vec<String>>,
    /// Params it has no use for: they must stay at their defaults.
    #[serde(default)]
    pub takes_no: Vec<String>,
    /// What a call costs.
    pub price: Price,
    /// Index of its first region in `Catalog::regions` (filled when loaded).
    #[serde(skip)]
    pub(crate) home: usize,
    /// Index of its lowest-carbon region (filled when loaded).
    #[serde(skip)]
    pub(crate) greenest: usize,
}

/// A model this machine can run for free (an ONNX model behind a capability).
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalModel {
    /// `local:<name>`.
    pub id: String,
    /// What it makes.
    pub serves: Vec<String>,
    /// The ONNX model's manifest name (`models/<name>.toml`).
    pub manifest: String,
    /// Params it takes only certain values of.
    #[serde(default)]
    pub accepts: BTreeMap<String, Vec<String>>,
    /// Params it has no use for.
    #[serde(default)]
    pub takes_no: Vec<String>,
}

/// This machine, for the carbon estimate of local work.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalMachine {
    /// Power drawn while working, in kW.
    pub power_kw: f64,
    /// The local grid's gCO2eq per kWh.
    pub gco2eq_per_kwh: f64,
}

impl Default for LocalMachine {
    fn default() -> Self {
        Self { power_kw: 0.15, gco2eq_per_kwh: 480.0 }
    }
}

/// The whole catalog.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// USD to credits.
    pub conversion: Conversion,
    /// Regions by id.
    pub regions: Vec<Region>,
    /// Models.
    pub models: Vec<Model>,
    /// Economy and green routes.
    #[serde(default)]
    pub routes: Routes,
    /// Surge and off-peak windows; the first that covers a call applies.
    #[serde(default)]
    pub schedule: Vec<Window>,
    /// Models this machine can run.
    #[serde(default)]
    pub local: Vec<LocalModel>,
    /// This machine's power and grid.
    #[serde(default)]
    pub local_machine: LocalMachine,
}

/// The provider of a `provider:model` id (`local` for `local:<model>`).
pub fn provider_of(id: &str) -> &str {
    id.split_once(':').map_or(id, |(provider, _)| provider)
}

/// The JSON Schema of a catalog file's data (the TOML maps onto it one to one), for editors
/// and for checking a user's catalog before it is used.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Catalog)).unwrap_or_default()
}

/// A catalog that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML for a catalog.
    #[error("the catalog is invalid: {0}")]
    Parse(String),
    /// A field that breaks a rule.
    #[error("catalog: {place}: {problem}")]
    Invalid {
        /// The model or region and field.
        place: String,
        /// What is wrong and what to write instead.
        problem: String,
    },
}

impl Catalog {
    /// Parses and checks a catalog, filling carbon intensities from `carbon_csv`.
    pub fn parse(text: &str, carbon_csv: &str) -> Result<Self, CatalogError> {
        let mut catalog: Catalog = toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        let grids = carbon_table(carbon_csv);
        for region in &mut catalog.regions {
            region.gco2eq_per_kwh = *grids.get(&region.grid).ok_or_else(|| CatalogError::Invalid {
                place: format!("region {}.grid", region.id),
                problem: format!("{:?} is not in the carbon table (provider:region)", region.grid),
            })?;
        }
        catalog.check()?;
        catalog.index_regions();
        Ok(catalog)
    }

    /// The shipped catalog.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN, CARBON_CSV).unwrap_or_else(|e| unreachable!("the shipped catalog is valid: {e}"))
    }

    /// A model by `provider:model`.
    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }

    /// A region by id.
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// Resolves each model's regions to indices once, so placement compares no names.
    fn index_regions(&mut self) {
        let regions = &self.regions;
        let index = |id: &String| regions.iter().position(|r| &r.id == id).unwrap_or(0);
        for m in &mut self.models {
            let indices: Vec<usize> = m.regions.iter().map(index).collect();
            m.home = indices.first().copied().unwrap_or(0);
            m.greenest = indices
                .iter()
                .copied()
                .min_by(|a, b| regions[*a].gco2eq_per_kwh.total_cmp(&regions[*b].gco2eq_per_kwh))
                .unwrap_or(m.home);
        }
    }

    fn check(&self) -> Result<(), CatalogError> {
        let bad = |place: String, problem: String| Err(CatalogError::Invalid { place, problem });
        if self.conversion.usd_per_credit <= 0.0 || !(0.0..=1.0).contains(&self.conversion.margin) {
            return bad("conversion".into(), "usd_per_credit must be positive and margin from 0 to 1".into());
        }
        let mut seen = BTreeMap::new();
        for m in &self.models {
            if seen.insert(m.id.as_str(), ()).is_some() {
                return bad(format!("model {}", m.id), "listed twice".into());
            }
            if m.id.split_once(':').is_none_or(|(p, n)| p.is_empty() || n.is_empty()) {
                return bad(format!("model {}.id", m.id), "write provider:model".into());
            }
            if let Some(s) = m.serves.iter().find(|s| !CAPABILITIES.contains(&s.as_str())) {
                return bad(
                    format!("model {}.serves", m.id),
                    format!("{s:?} is not one of {}", CAPABILITIES.join(", ")),
                );
            }
            if let Some(r) = m.regions.iter().find(|r| self.region(r).is_none()) {
                return bad(format!("model {}.regions", m.id), format!("no region {r:?} in [[regions]]"));
            }
            if m.regions.is_empty() || m.latency.typical_s <= 0.0 || m.latency.max_s < m.latency.typical_s {
                return bad(
                    format!("model {}", m.id),
                    "needs a region and 0 < latency.typical_s <= latency.max_s".into(),
                );
            }
            check_price(&m.id, &m.price)?;
        }
        for l in &self.local {
            if !l.id.starts_with("local:") || l.serves.iter().any(|s| !CAPABILITIES.contains(&s.as_str())) {
                return bad(format!("local {}", l.id), "needs a local:<name> id and known capabilities".into());
            }
        }
        for w in &self.schedule {
            if let Some(problem) = w.problem() {
                return bad(format!("schedule {}", w.name), problem);
            }
        }
        let routes = [self.routes.economy, self.routes.green];
        if routes.iter().flatten().any(|r| r.price_factor <= 0.0 || r.eta_factor <= 0.0) {
            return bad("routes".into(), "price_factor and eta_factor must be positive".into());
        }
        // No discount may sell below the provider's price: the margin must cover it.
        let lowest =
            routes.iter().flatten().map(|r| r.price_factor).chain(self.schedule.iter().map(|w| w.price_factor));
        if let Some(low) = lowest.filter(|f| f * (1.0 + self.conversion.margin) < 1.0).reduce(f64::min) {
            return bad(
                "routes and schedule".into(),
                format!(
                    "a price factor of {low} with a margin of {} sells below cost; raise either",
                    self.conversion.margin
                ),
            );
        }
        Ok(())
    }
}

fn check_price(id: &str, price: &Price) -> Result<(), CatalogError> {
    let bad =
        |problem: &str| Err(CatalogError::Invalid { place: format!("model {id}.price"), problem: problem.into() });
    if price.base_usd < 0.0 || price.terms.iter().any(|t| t.usd < 0.0 || t.above < 0.0) {
        return bad("rates, bases and allowances cannot be negative");
    }
    for term in &price.terms {
        let bounds: Vec<f64> = term.tiers.iter().map(|t| t.up_to.unwrap_or(f64::INFINITY)).collect();
        if term.tiers.iter().any(|t| t.usd < 0.0) || bounds.windows(2).any(|w| w[0] >= w[1]) {
            return bad("tiers need non-negative rates and rising up_to bounds");
        }
        if term.tiers.last().is_some_and(|t| t.up_to.is_some()) {
            return bad("the last tier has no up_to (it covers the rest)");
        }
    }
    Ok(())
}

/// `provider:region` to gCO2eq per kWh.
fn carbon_table(csv: &str) -> BTreeMap<String, f64> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.splitn(5, ',');
            let (provider, region, grams) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
            Some((format!("{provider}:{region}"), grams))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_loads_with_carbon_from_the_table() {
        let c = Catalog::builtin();
        let flux = c.model("bfl:flux-2-pro").unwrap();
        assert_eq!(flux.brand, Brand::Nvidia);
        let region = c.region(&flux.regions[0]).unwrap();
        assert!(region.gco2eq_per_kwh > 0.0);
        for cap in CAPABILITIES {
            assert!(c.models.iter().any(|m| m.serves.iter().any(|s| s == cap)), "{cap} has a model");
        }
    }

    #[test]
    fn broken_catalogs_name_the_model_and_field() {
        let broken = BUILTIN.replacen("serves = [\"text_to_image\"", "serves = [\"text_to_imag\"", 1);
        let err = Catalog::parse(&broken, CARBON_CSV).unwrap_err().to_string();
        assert!(err.contains(".serves") && err.contains("\"text_to_imag\" is not one of"), "{err}");
        let err = Catalog::parse("conversion = 1", CARBON_CSV).unwrap_err().to_string();
        assert!(err.starts_with("the catalog is invalid"), "{err}");
    }
}
