//! The catalog's types a front end names (the catalog itself, placement rules, a node's
//! quote and a run's totals), so front ends reach the catalog only through the session.

pub use switchyard_catalog::place::Options as PlacementRules;
pub use switchyard_catalog::quote::{NodeQuote, Totals};
pub use switchyard_catalog::{Catalog, json_schema};
