//! Placement for `quote` and `run`: the catalog, the policy's options (local models that fit
//! this machine included), and the placed graph.

use switchyard_billing::plan::offer_local_models;
use switchyard_billing::{GraphPlan, place_graph};
use switchyard_catalog::place::{Options, Policy};
use switchyard_catalog::{Catalog, Route};
use switchyard_engine::Graph;
use switchyard_nodes::onnx::{ASSUMED_INPUT_MEGAPIXELS, OnnxSettings, local_fit};

use super::args::PlacementArgs;

/// The shipped catalog, or the user's.
pub fn load_catalog(args: &PlacementArgs) -> Result<Catalog, String> {
    let Some(file) = &args.catalog else { return Ok(Catalog::builtin()) };
    let body = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Catalog::parse(&body, switchyard_catalog::CARBON_CSV).map_err(|e| format!("{}: {e}", file.display()))
}

/// Places every capability node of `graph`.
pub fn place(graph: &mut Graph, catalog: &Catalog, opts: &Options) -> Result<GraphPlan, String> {
    place_graph(catalog, graph, opts).map_err(|e| e.to_string())
}

/// The flags' placement options, once for every graph of a run (a batch's items share the
/// time, and local models are probed once): local models are checked for the capabilities
/// `graph` uses.
pub fn options(args: &PlacementArgs, catalog: &Catalog, graph: &Graph, onnx: &OnnxSettings) -> Result<Options, String> {
    let policy: Policy = args.policy.parse().map_err(|e| format!("--policy: {e}"))?;
    let at_unix_s = match &args.at {
        Some(at) => parse_time(at).map_err(|e| format!("--at: {e}"))?,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64),
    };
    let mut opts = Options::new(policy, at_unix_s);
    if let Some(d) = &args.deadline {
        if opts.policy != Policy::Cheapest {
            return Err(format!("--deadline goes with --policy cheapest, not {}", opts.policy));
        }
        opts.deadline_s = Some(parse_duration(d).map_err(|e| format!("--deadline: {e}"))?);
    }
    opts.licences = args.licences.iter().cloned().collect();
    for route in &args.routes {
        opts.routes.insert(match route.as_str() {
            "economy" => Route::Economy,
            "green" => Route::Green,
            other => return Err(format!("--route {other:?}: the routes are economy and green")),
        });
    }
    offer_local_models(catalog, graph, &mut opts, |manifest| local_fit(onnx, manifest, ASSUMED_INPUT_MEGAPIXELS));
    Ok(opts)
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
}
