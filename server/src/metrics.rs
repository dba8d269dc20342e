//! `/metrics` in Prometheus's text format, on its own listener (`--metrics-listen`), meant for
//! an operator's network: the numbers span every tenant. Counters live in memory since
//! start; queue depths are read from the store when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters the server keeps.
#[derive(Default)]
pub(crate) struct Metrics {
    pub submitted: AtomicU64,
    pub rate_limited: AtomicU64,
    pub credits_charged: AtomicU64,
    pub ws_clients: AtomicU64,
    /// Runs ended, by final state.
    ended: Mutex<BTreeMap<String, u64>>,
    /// Node wall time by node type: count and seconds.
    nodes: Mutex<BTreeMap<String, (u64, f64)>>,
}

impl Metrics {
    pub(crate) fn run_ended(&self, state: &str) {
        if let Ok(mut ended) = self.ended.lock() {
            *ended.entry(state.to_string()).or_default() += 1;
        }
    }

    pub(crate) fn node_ran(&self, node_type: &str, seconds: f64) {
        if let Ok(mut nodes) = self.nodes.lock() {
            let entry = nodes.entry(node_type.to_string()).or_default();
            entry.0 += 1;
            entry.1 += seconds;
        }
    }

    /// The text exposition, with the store's queue depths by state and tier.
    pub(crate) fn render(&self, depths: &[(String, i64, i64)]) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            &mut out,
            "switchyard_runs_submitted_total",
            "Runs accepted into the queue.",
            self.submitted.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "switchyard_requests_rate_limited_total",
            "Requests refused with 429.",
            self.rate_limited.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "switchyard_credits_charged_total",
            "Credits charged by finished runs.",
            self.credits_charged.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP switchyard_event_clients Open /v1/events streams.\n# TYPE switchyard_event_clients gauge\nswitchyard_event_clients {}",
            self.ws_clients.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP switchyard_runs Runs in the store by state and plan tier.\n# TYPE switchyard_runs gauge"
        );
        for (state, tier, n) in depths {
            let _ = writeln!(out, "switchyard_runs{{state=\"{state}\",tier=\"{tier}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP switchyard_runs_ended_total Runs ended here, by state.\n# TYPE switchyard_runs_ended_total counter"
        );
        if let Ok(ended) = self.ended.lock() {
            for (state, n) in ended.iter() {
                let _ = writeln!(out, "switchyard_runs_ended_total{{state=\"{state}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP switchyard_node_seconds Node wall time by node type.\n# TYPE switchyard_node_seconds summary"
        );
        if let Ok(nodes) = self.nodes.lock() {
            for (kind, (count, sum)) in nodes.iter() {
                let _ = writeln!(out, "switchyard_node_seconds_sum{{type=\"{kind}\"}} {sum:.6}");
                let _ = writeln!(out, "switchyard_node_seconds_count{{type=\"{kind}\"}} {count}");
            }
        }
        out
    }
}
