//! Placement options from a front end's plain options: the policy, the time prices are
//! taken at, a deadline, licences, routes and the catalog, with the local models this machine
//! can run offered for the capabilities the graph uses.

use std::path::PathBuf;

use switchyard_billing::plan::offer_local_models;
use switchyard_catalog::place::{Options, Policy};
use switchyard_catalog::{Catalog, Route};
use switchyard_engine::Graph;

use crate::SessionError;

/// How a front end asks for placement (the command line's flags, the editor's pickers).
#[derive(Clone, Debug, Default)]
pub struct PlacementOptions {
    /// `cheapest`, `fastest`, `greenest`, `brand:NAME` or `local-first[:POLICY]`; empty for
    /// cheapest.
    pub policy: String,
    /// With cheapest: the graph must finish within this (`90s`, `5m`, `1h`).
    pub deadline: Option<String>,
    /// Price as of this time (RFC 3339 in UTC, or unix seconds); now when `None`.
    pub at: Option<String>,
    /// A catalog file instead of the shipped one.
    pub catalog: Option<PathBuf>,
    /// Routes accepted where they win: `economy`, `green`.
    pub routes: Vec<String>,
    /// Licences held, for models that need one.
    pub licences: Vec<String>,
}

/// The shipped catalog, or the file `opts.catalog` names.
pub fn load_catalog(opts: &PlacementOptions) -> Result<Catalog, SessionError> {
    let Some(file) = &opts.catalog else { return Ok(Catalog::builtin()) };
    let body = std::fs::read_to_string(file)
        .map_err(|e| SessionError::invalid(format!("cannot read the catalog {}: {e}", file.display())))?;
    Catalog::parse(&body, switchyard_catalog::CARBON_CSV)
        .map_err(|e| SessionError::invalid(format!("{}: {e}", file.display())))
}

/// The placement options for `graph` (and every graph of the same run: a batch's items share
/// the time, and local models are probed once). `fit` says whether a local model's manifest
/// fits this machine, and how long it takes.
pub fn options(
    opts: &PlacementOptions,
    catalog: &Catalog,
    graph: &Graph,
    fit: impl Fn(&str) -> Result<f64, String>,
) -> Result<Options, SessionError> {
    let policy = if opts.policy.is_empty() { "cheapest" } else { opts.policy.as_str() };
    let policy: Policy = policy.parse().map_err(|e| SessionError::invalid(format!("policy: {e}")))?;
    let at_unix_s = match &opts.at {
        Some(at) => parse_time(at).map_err(|e| SessionError::invalid(format!("at: {e}")))?,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64),
    };
    let mut placement = Options::new(policy, at_unix_s);
    if let Some(d) = &opts.deadline {
        if placement.policy != Policy::Cheapest {
            return Err(SessionError::invalid(format!(
                "a deadline goes with the cheapest policy, not {}",
                placement.policy
            )));
        }
        placement.deadline_s = Some(parse_duration(d).map_err(|e| SessionError::invalid(format!("deadline: {e}")))?);
    }
    placement.licences = opts.licences.iter().cloned().collect();
    for route in &opts.routes {
        placement.routes.insert(match route.as_str() {
            "economy" => Route::Economy,
            "green" => Route::Green,
            other => return Err(SessionError::invalid(format!("route {other:?}: the routes are economy and green"))),
        });
    }
    offer_local_models(catalog, graph, &mut placement, fit);
    Ok(placement)
}

/// `90`, `90s`, `5m` or `2h`, in seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let (number, unit) = text.find(|c: char| c.is_ascii_alphabetic()).map_or((text, "s"), |i| text.split_at(i));
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?}: write seconds, or a number with s, m or h")),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n * scale),
        _ => Err(format!("{text:?} is not a positive duration such as 90s, 5m or 1h")),
    }
}

/// Unix seconds, or RFC 3339 in UTC (`2026-11-18T12:00:00Z`), to unix seconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    let bad = || format!("{text:?} is not unix seconds or a UTC time such as 2026-11-18T12:00:00Z");
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return Err(bad());
    }
    let num = |from: usize, to: usize| text.get(from..to).and_then(|s| s.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    Ok(switchyard_ledger::plans::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse_or_say_what_to_write() {
        assert_eq!(parse_duration("5m"), Ok(300.0));
        assert_eq!(parse_duration("90"), Ok(90.0));
        assert!(parse_duration("5d").unwrap_err().contains("with s, m or h"));
        assert_eq!(parse_time("2025-11-19T12:00:00Z"), Ok(1_763_553_600));
        assert!(parse_time("2025-13-19T12:00:00Z").is_err());
    }

    #[test]
    fn bad_placement_options_are_invalid_requests() {
        let text = r#"{ "format": "switchyard.workflow", "version": 1, "nodes": {} }"#;
        let registry = switchyard_engine::Registry::new();
        let (_, graph) = switchyard_engine::load_workflow(text, &registry, &[], &Default::default()).unwrap();
        let catalog = Catalog::builtin();
        let cases = [
            PlacementOptions { policy: "dearest".into(), ..Default::default() },
            PlacementOptions { policy: "fastest".into(), deadline: Some("5m".into()), ..Default::default() },
            PlacementOptions { routes: vec!["scenic".into()], ..Default::default() },
            PlacementOptions { at: Some("yesterday".into()), ..Default::default() },
        ];
        for opts in cases {
            let err = options(&opts, &catalog, &graph, |_| Ok(1.0)).unwrap_err();
            assert_eq!(err.code, crate::Code::Invalid, "{opts:?}: {err}");
        }
        assert!(options(&PlacementOptions::default(), &catalog, &graph, |_| Ok(1.0)).is_ok(), "cheapest by default");
    }
}
