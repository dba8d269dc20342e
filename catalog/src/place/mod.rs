//! Placement: where each cloud-capable node runs, by the user's policy, within the node's
//! own preferences and every constraint, and what the graph costs there.
//!
//! Each node gets a ranked list of candidates (model, region and route, priced with the
//! modifiers in force); the first is its placement and the rest, one per other provider, are
//! its fallbacks. `fastest` then re-places the graph as a whole ([`schedule`]), and
//! `cheapest --deadline` trades credits for time until the graph fits.

mod candidates;
mod policy;
mod schedule;

use std::collections::{BTreeMap, BTreeSet};

use candidates::Cand;
pub use candidates::Candidate;
pub use policy::Policy;

use rayon::prelude::*;

use crate::Catalog;
use crate::modifiers::Route;
use crate::quote::{Call, NodeQuote, Totals};

/// A node's placement preferences (the workflow's `placement`).
#[derive(Clone, Debug, PartialEq)]
pub struct Prefs {
    /// Run here only.
    pub pin: Option<String>,
    /// Try these first, in order.
    pub order: Vec<String>,
    /// Whether a refusal may move the node to its next candidate.
    pub allow_fallbacks: bool,
    /// The most the node may cost.
    pub max_credits: Option<i64>,
    /// Consider only these.
    pub only: Vec<String>,
    /// Never consider these.
    pub ignore: Vec<String>,
}

impl Default for Prefs {
    fn default() -> Self {
        Self { pin: None, order: vec![], allow_fallbacks: true, max_credits: None, only: vec![], ignore: vec![] }
    }
}

/// One node to place.
#[derive(Clone, Debug)]
pub struct Need {
    /// The call: capability, params, and `model` as the node's `provider` param says (empty
    /// when the policy chooses).
    pub call: Call,
    /// Params set away from their defaults.
    pub set: BTreeSet<String>,
    /// The node's preferences.
    pub prefs: Prefs,
    /// Marked `"quality": "final"`.
    pub final_quality: bool,
}

/// Calls one provider is assumed to run at once, for the makespan estimate: half the
/// client's default concurrency of 8, as providers queue work (Runway's THROTTLED) well
/// before a client's own limit. Every front end places with it.
pub const PROVIDER_SLOTS: usize = 4;

/// What placement may use.
#[derive(Clone, Debug)]
pub struct Options {
    /// The policy.
    pub policy: Policy,
    /// For `cheapest`: the graph must finish within this (typical times).
    pub deadline_s: Option<f64>,
    /// When the run starts, for surge and off-peak windows.
    pub at_unix_s: i64,
    /// Licences the user holds.
    pub licences: BTreeSet<String>,
    /// Local models by id: their typical seconds here, or why they cannot run here.
    pub local: BTreeMap<String, Result<f64, String>>,
    /// Calls one provider runs at once.
    pub provider_slots: usize,
    /// Local models run at once.
    pub local_slots: usize,
    /// Routes besides the standard one the user accepts (`greenest` always accepts green).
    pub routes: BTreeSet<Route>,
}

impl Options {
    /// Whether `route` may be used.
    pub fn accepts(&self, route: Route) -> bool {
        route == Route::Standard
            || self.routes.contains(&route)
            || (route == Route::Green && self.policy == Policy::Greenest)
    }

    /// Options for `policy` at `at_unix_s`, with nothing local, no licences and only the
    /// standard route.
    pub fn new(policy: Policy, at_unix_s: i64) -> Self {
        Self {
            policy,
            deadline_s: None,
            at_unix_s,
            licences: BTreeSet::new(),
            local: BTreeMap::new(),
            provider_slots: PROVIDER_SLOTS,
            local_slots: 1,
            routes: BTreeSet::new(),
        }
    }
}

/// A placed node.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// Its quote.
    pub quote: NodeQuote,
    /// The placement first, then one fallback per other provider, in rank order.
    pub candidates: Vec<Candidate>,
    /// Whether fallbacks may be used.
    pub fallbacks: bool,
}

/// A placed graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Per node in graph order; `None` for work that always runs locally.
    pub nodes: Vec<Option<Placed>>,
    /// The graph's totals.
    pub totals: Totals,
}

/// Why a graph cannot be placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// No candidate satisfies a node; each candidate with the constraint that excluded it.
    #[error("{node}: no placement for {capability}:{}", list(.excluded))]
    NoPlacement {
        /// The node.
        node: String,
        /// Its capability.
        capability: String,
        /// Candidate and reason.
        excluded: Vec<(String, String)>,
    },
    /// A preference that cannot mean anything.
    #[error("{node}: {field}: {problem}")]
    BadPreference {
        /// The node.
        node: String,
        /// `placement.only`, `provider`, ...
        field: String,
        /// What is wrong and what to write.
        problem: String,
    },
    /// Even the fastest placement misses the deadline.
    #[error(
        "no placement finishes within the deadline of {deadline_s:.0} s: the fastest takes about {fastest_s:.0} s; raise --deadline or drop it"
    )]
    Deadline {
        /// The deadline.
        deadline_s: f64,
        /// The fastest makespan.
        fastest_s: f64,
    },
}

fn list(excluded: &[(String, String)]) -> String {
    excluded.iter().map(|(c, why)| format!("\n  {c}: {why}")).collect()
}

impl Catalog {
    /// Places a graph: nodes in topological order, each with its need (`None` for local
    /// work) and the indices of its upstream nodes. Nodes are ranked in parallel; the
    /// graph-wide pass is sequential.
    pub fn plan(&self, nodes: &[(Option<Need>, Vec<usize>)], opts: &Options) -> Result<Plan, PlaceError> {
        let ranked: Vec<Option<policy::Ranked>> = nodes
            .par_iter()
            .map(|(need, _)| need.as_ref().map(|n| self.ranked(n, opts)).transpose())
            .collect::<Result<_, _>>()?;
        let cands: Vec<Option<&[Cand]>> = ranked.iter().map(|r| r.as_ref().map(|r| r.cands.as_slice())).collect();
        let upstream: Vec<&[usize]> = nodes.iter().map(|(_, u)| u.as_slice()).collect();
        let graph = schedule::Graph { ranked: &cands, upstream: &upstream, opts };
        let choice = graph.choose()?;
        let finish = graph.simulate(&choice);
        let makespan_worst_s = graph.simulate_worst(&choice).into_iter().fold(0.0, f64::max);
        let placed: Vec<Option<Placed>> = nodes
            .par_iter()
            .zip(ranked.into_par_iter().zip(choice))
            .map(|((need, _), (r, pick))| Some(policy::placed(need.as_ref()?, &r?, pick, opts)))
            .collect();
        let makespan_s = finish.iter().copied().fold(0.0, f64::max);
        let mut totals = Totals { makespan_s, makespan_worst_s, ..Totals::default() };
        for p in placed.iter().flatten() {
            totals.credits = (totals.credits.0 + p.quote.credits.0, totals.credits.1 + p.quote.credits.1);
            totals.gco2eq += p.quote.gco2eq;
        }
        Ok(Plan { nodes: placed, totals })
    }
}

#[cfg(test)]
mod tests;
