//! Placing the graph as a whole, and its makespan under concurrency limits.
//!
//! The makespan comes from list scheduling in topological order: each node starts when its
//! inputs are ready and its pool (a provider, or this machine) has a free slot. `fastest`
//! places by earliest finish time (HEFT's placement step, in topological order): each node
//! goes to the candidate that would finish it soonest given those two things, so when the
//! fastest provider's slots are taken, work spills to the next provider instead of queueing.
//! `--deadline` starts from that placement and moves the nodes with the largest savings back
//! to cheaper candidates while the makespan still fits.

use std::collections::HashMap;

use super::candidates::Cand;
use super::{Options, PlaceError, Policy};

/// Nodes whose cheaper candidates the deadline pass tries, at most.
const DEADLINE_NODES_MAX: usize = 256;
/// Cheaper candidates tried per node, at most.
const DEADLINE_TRIES_PER_NODE: usize = 4;

pub(super) struct Graph<'g, 'a> {
    pub ranked: &'g [Option<&'g [Cand<'a>]>],
    pub upstream: &'g [&'g [usize]],
    pub opts: &'g Options,
}

/// Slot free times per pool.
struct Pools<'a> {
    free: HashMap<&'a str, Vec<f64>>,
    provider_slots: usize,
    local_slots: usize,
}

impl<'a> Pools<'a> {
    fn new(opts: &Options) -> Self {
        Self { free: HashMap::new(), provider_slots: opts.provider_slots.max(1), local_slots: opts.local_slots.max(1) }
    }

    /// The earliest free slot of `pool`: its index and time.
    fn earliest(&mut self, pool: &'a str) -> (usize, f64) {
        let n = if pool == "local" { self.local_slots } else { self.provider_slots };
        let slots = self.free.entry(pool).or_insert_with(|| vec![0.0; n]);
        slots.iter().enumerate().fold((0, f64::INFINITY), |best, (i, t)| if *t < best.1 { (i, *t) } else { best })
    }

    fn take(&mut self, pool: &'a str, slot: usize, until: f64) {
        if let Some(t) = self.free.get_mut(pool).and_then(|s| s.get_mut(slot)) {
            *t = until;
        }
    }
}

impl<'a> Graph<'_, 'a> {
    fn ready(&self, i: usize, finish: &[f64]) -> f64 {
        self.upstream[i].iter().filter_map(|u| finish.get(*u)).fold(0.0, |a, b| a.max(*b))
    }

    /// List-schedules the graph: each node, in topological order, goes on the candidate that
    /// `pick` chooses given when its inputs are ready and the pools' free slots. Returns the
    /// picks and each node's finish time.
    fn schedule(
        &self,
        mut pick: impl FnMut(usize, &[Cand<'a>], &mut Pools<'a>, f64) -> usize,
        worst: bool,
    ) -> (Vec<usize>, Vec<f64>) {
        let mut pools = Pools::new(self.opts);
        let n = self.ranked.len();
        let (mut choice, mut finish) = (vec![0; n], vec![0.0; n]);
        for (i, cands) in self.ranked.iter().enumerate() {
            let ready = self.ready(i, &finish);
            let Some(cands) = cands.filter(|c| !c.is_empty()) else {
                finish[i] = ready;
                continue;
            };
            let k = pick(i, cands, &mut pools, ready).min(cands.len() - 1);
            let c = &cands[k];
            let (slot, free) = pools.earliest(c.pool);
            let end = ready.max(free) + if worst { c.eta_s.1 } else { c.eta_s.0 };
            pools.take(c.pool, slot, end);
            (choice[i], finish[i]) = (k, end);
        }
        (choice, finish)
    }

    /// Each node's finish time with these picks.
    pub fn simulate(&self, choice: &[usize]) -> Vec<f64> {
        self.schedule(|i, _, _, _| choice[i], false).1
    }

    /// Each node's finish time with these picks when every call takes its worst time.
    pub fn simulate_worst(&self, choice: &[usize]) -> Vec<f64> {
        self.schedule(|i, _, _, _| choice[i], true).1
    }

    /// Earliest-finish-time picks: the first candidate that would finish soonest.
    fn earliest_finish(&self) -> Vec<usize> {
        let soonest = |_: usize, cands: &[Cand<'a>], pools: &mut Pools<'a>, ready: f64| {
            let mut best = (0, f64::INFINITY);
            for (k, c) in cands.iter().enumerate() {
                let end = ready.max(pools.earliest(c.pool).1) + c.eta_s.0;
                if end < best.1 {
                    best = (k, end);
                }
            }
            best.0
        };
        self.schedule(soonest, false).0
    }

    fn makespan(&self, choice: &[usize]) -> f64 {
        self.simulate(choice).into_iter().fold(0.0, f64::max)
    }

    /// Each node's pick: the first of its ranking, or the graph-wide placement `fastest` and
    /// `--deadline` ask for.
    pub fn choose(&self) -> Result<Vec<usize>, PlaceError> {
        let ranked_first = vec![0; self.ranked.len()];
        if self.opts.policy == Policy::Fastest {
            return Ok(self.earliest_finish());
        }
        let Some(deadline_s) = self.opts.deadline_s else { return Ok(ranked_first) };
        if self.makespan(&ranked_first) <= deadline_s {
            return Ok(ranked_first);
        }
        let mut choice = self.earliest_finish();
        let fastest_s = self.makespan(&choice);
        if fastest_s > deadline_s {
            return Err(PlaceError::Deadline { deadline_s, fastest_s });
        }
        self.spend_slack(&mut choice, deadline_s);
        Ok(choice)
    }

    /// Moves nodes back to cheaper candidates, largest saving first, while the graph still
    /// finishes by `deadline_s`.
    fn spend_slack(&self, choice: &mut [usize], deadline_s: f64) {
        let credits = |i: usize, k: usize| self.ranked[i].and_then(|c| c.get(k)).map_or(0, |c| c.credits.1);
        let mut nodes: Vec<(i64, usize)> =
            (0..choice.len()).map(|i| (credits(i, choice[i]) - credits(i, 0), i)).filter(|(s, _)| *s > 0).collect();
        nodes.sort_by(|a, b| b.cmp(a));
        for (_, i) in nodes.into_iter().take(DEADLINE_NODES_MAX) {
            let current = choice[i];
            let cheaper: Vec<usize> = (0..current).filter(|k| credits(i, *k) < credits(i, current)).collect();
            for k in cheaper.into_iter().take(DEADLINE_TRIES_PER_NODE) {
                choice[i] = k;
                if self.makespan(choice) <= deadline_s {
                    break;
                }
                choice[i] = current;
            }
        }
    }
}
