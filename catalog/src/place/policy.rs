//! The placement policies: how a node's candidates are ranked, and the one line that says
//! why the first was chosen.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::quote::NodeQuote;
use crate::{Brand, Catalog};

use super::candidates::{Cand, names};
use super::{Need, Options, PlaceError, Placed};

/// How nodes are placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The whole graph finishes soonest (see `schedule`).
    Fastest,
    /// The fewest credits (within `--deadline`, when given).
    Cheapest,
    /// The least estimated gCO2eq.
    Greenest,
    /// Compute of this brand first, then the cheapest of the rest.
    Brand(Brand),
    /// Drafts on this machine, finals to the cloud under the inner policy.
    LocalFirst(Box<Policy>),
}

const FORMS: &str = "fastest, cheapest, greenest, brand:nvidia, brand:google, brand:amd, local-first (or local-first:<policy> for the finals)";

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fastest" => Ok(Policy::Fastest),
            "cheapest" => Ok(Policy::Cheapest),
            "greenest" => Ok(Policy::Greenest),
            "local-first" => Ok(Policy::LocalFirst(Box::new(Policy::Cheapest))),
            "brand:nvidia" => Ok(Policy::Brand(Brand::Nvidia)),
            "brand:google" | "brand:google-tpu" => Ok(Policy::Brand(Brand::GoogleTpu)),
            "brand:amd" => Ok(Policy::Brand(Brand::Amd)),
            _ => match s.strip_prefix("local-first:").map(Policy::from_str) {
                Some(Ok(Policy::LocalFirst(_))) => Err("local-first cannot nest".into()),
                Some(Ok(inner)) => Ok(Policy::LocalFirst(Box::new(inner))),
                _ => Err(format!("{s:?} is not a policy; use one of {FORMS}")),
            },
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Fastest => f.write_str("fastest"),
            Policy::Cheapest => f.write_str("cheapest"),
            Policy::Greenest => f.write_str("greenest"),
            Policy::Brand(Brand::Nvidia) => f.write_str("brand:nvidia"),
            Policy::Brand(Brand::GoogleTpu) => f.write_str("brand:google"),
            Policy::Brand(Brand::Amd) => f.write_str("brand:amd"),
            Policy::LocalFirst(inner) => write!(f, "local-first:{inner}"),
        }
    }
}

fn cheaper(a: &Cand, b: &Cand) -> Ordering {
    (a.credits.1, a.credits.0).cmp(&(b.credits.1, b.credits.0)).then(a.eta_s.0.total_cmp(&b.eta_s.0))
}

fn by_policy(policy: &Policy, a: &Cand, b: &Cand) -> Ordering {
    match policy {
        Policy::Cheapest => cheaper(a, b),
        Policy::Fastest => a.eta_s.0.total_cmp(&b.eta_s.0).then_with(|| cheaper(a, b)),
        Policy::Greenest => a.gco2eq.total_cmp(&b.gco2eq).then_with(|| cheaper(a, b)),
        Policy::Brand(brand) => (a.brand != Some(*brand)).cmp(&(b.brand != Some(*brand))).then_with(|| cheaper(a, b)),
        Policy::LocalFirst(inner) => (a.pool != "local").cmp(&(b.pool != "local")).then_with(|| by_policy(inner, a, b)),
    }
}

impl Catalog {
    /// `need`'s candidates, best first: those `placement.order` names in its order, then the
    /// rest by the policy. A pinned node keeps only its pin, and the best other candidate as
    /// its runner-up.
    pub(super) fn ranked<'a>(&'a self, need: &Need, opts: &Options) -> Result<Ranked<'a>, PlaceError> {
        let (mut cands, pin) = self.candidates(need, opts)?;
        let order = &need.prefs.order;
        let position = |c: &Cand| order.iter().position(|e| names(e, c.id)).unwrap_or(usize::MAX);
        cands.sort_by(|a, b| position(a).cmp(&position(b)).then_with(|| by_policy(&opts.policy, a, b)));
        let Some(pin) = pin else { return Ok(Ranked { cands, pinned_runner_up: None }) };
        let pinned_runner_up = cands.iter().find(|c| c.id != pin).copied();
        cands.retain(|c| c.id == pin);
        Ok(Ranked { cands, pinned_runner_up })
    }
}

/// A node's ranked candidates.
pub(super) struct Ranked<'a> {
    /// Best first.
    pub cands: Vec<Cand<'a>>,
    /// For a pinned node, the best candidate it was not pinned to.
    pub pinned_runner_up: Option<Cand<'a>>,
}

impl<'a> Ranked<'a> {
    /// The best candidate on another model than the pick.
    pub fn runner_up(&self, pick: usize) -> Option<Cand<'a>> {
        let chosen = self.cands.get(pick)?.id;
        self.pinned_runner_up.or_else(|| self.cands.iter().find(|c| c.id != chosen).copied())
    }
}

/// Fallbacks kept per node: one per other provider.
const MAX_FALLBACKS: usize = 4;

/// The placed node: its pick, its fallbacks and the line that says why.
pub(super) fn placed(need: &Need, ranked: &Ranked, pick: usize, opts: &Options) -> Placed {
    let cands = &ranked.cands;
    let runner_up = ranked.runner_up(pick);
    let chosen = cands[pick.min(cands.len() - 1)];
    let mut pools = vec![chosen.pool];
    let mut list = vec![chosen.public()];
    for c in cands.iter().filter(|c| c.pool != chosen.pool) {
        if list.len() > MAX_FALLBACKS {
            break;
        }
        if !pools.contains(&c.pool) {
            pools.push(c.pool);
            list.push(c.public());
        }
    }
    let quote = NodeQuote {
        node: need.call.node.clone(),
        placement: chosen.placement(),
        credits: chosen.credits,
        eta_s: chosen.eta_s,
        gco2eq: chosen.gco2eq,
        why: why(need, &chosen, runner_up.as_ref(), opts),
        cached: false,
    };
    Placed { quote, candidates: list, fallbacks: need.prefs.allow_fallbacks }
}

fn credits_text((lo, hi): (i64, i64)) -> String {
    if lo == hi { format!("{hi} cr") } else { format!("{lo}-{hi} cr") }
}

fn why(need: &Need, chosen: &Cand, runner_up: Option<&Cand>, opts: &Options) -> String {
    let pinned = !need.call.model.is_empty() || need.prefs.pin.is_some();
    let reason = match &opts.policy {
        _ if pinned => "pinned in the workflow".to_string(),
        _ if need.prefs.order.iter().any(|e| names(e, chosen.id)) => "first available in placement.order".into(),
        Policy::LocalFirst(_) if chosen.pool == "local" => "a draft, run here for free".into(),
        Policy::LocalFirst(inner) if need.final_quality => format!("a final, sent to the cloud ({inner})"),
        Policy::LocalFirst(inner) => format!("no local model can do it; {inner}"),
        Policy::Brand(b) if chosen.brand == Some(*b) => format!("{b} compute, cheapest"),
        Policy::Brand(b) => format!("no {b} candidate; cheapest other brand"),
        Policy::Fastest => "finishes the graph soonest".into(),
        Policy::Cheapest if opts.deadline_s.is_some() => "cheapest within the deadline".into(),
        Policy::Cheapest => "cheapest".into(),
        Policy::Greenest => "least gCO2eq".into(),
    };
    let mut line = reason;
    if chosen.price_factor != 1.0 && chosen.pool != "local" {
        let window = chosen.window.map_or(String::new(), |w| format!(", {w}"));
        line.push_str(&format!(" (price x{:.2}: {} route{window})", chosen.price_factor, chosen.route.name()));
    }
    match runner_up {
        Some(r) => line.push_str(&format!(
            "; runner-up {} at {}, {}, {:.2} gCO2eq",
            r.placement(),
            credits_text(r.credits),
            crate::quote::eta_text(r.eta_s),
            r.gco2eq
        )),
        None => line.push_str("; no other candidate"),
    }
    line
}
