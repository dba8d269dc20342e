//! The catalog's types a front end names (the catalog itself, placement rules, a node's
//! quote and a run's totals), so front ends reach the catalog only through the session.

pub use switchyard_catalog::place::Options as PlacementRules;
pub use switchyard_catalog::quote::{NodeQuote, Totals, eta_text};
pub use switchyard_catalog::{Catalog, json_schema};

/// The shipped catalog's data as JSON (its TOML, one to one), for a server to publish.
pub fn builtin_json() -> serde_json::Value {
    json_of(switchyard_catalog::BUILTIN)
}

/// A catalog file's data as JSON (its TOML, one to one); null if it is not TOML.
pub fn json_of(toml_text: &str) -> serde_json::Value {
    toml::from_str::<toml::Value>(toml_text).ok().and_then(|v| serde_json::to_value(v).ok()).unwrap_or_default()
}
