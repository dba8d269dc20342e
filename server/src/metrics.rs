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
    /// Frames sent to workers that join through the server.
    pub farm_inputs_sent: AtomicU64,
    /// Files workers sent back (not counting those the server had by hash).
    pub farm_blobs_received: AtomicU64,
    /// Payment webhooks refused for their signature.
    pub webhooks_refused: AtomicU64,
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

    /// The text exposition, with what is read when scraped: the store's queue depths, the
    /// ledger's holds and the providers' error replies.
    pub(crate) fn render(&self, read: &Scraped) -> String {
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
            "switchyard_payment_webhooks_refused_total",
            "Payment webhooks refused for a bad or stale signature.",
            self.webhooks_refused.load(Ordering::Relaxed),
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
        counter(
            &mut out,
            "switchyard_farm_inputs_sent_total",
            "Frames sent to remote farm workers (a worker fetches a frame it lacks by hash only).",
            self.farm_inputs_sent.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "switchyard_farm_blobs_received_total",
            "Files remote farm workers sent (content the server already had is not sent).",
            self.farm_blobs_received.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP switchyard_event_clients Open /v1/events streams.\n# TYPE switchyard_event_clients gauge\nswitchyard_event_clients {}",
            self.ws_clients.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP switchyard_runs Runs waiting or running, by state, lane and plan tier (off-peak runs wait as scheduled).\n# TYPE switchyard_runs gauge"
        );
        for (state, lane, tier, n) in &read.depths {
            let _ = writeln!(out, "switchyard_runs{{state=\"{state}\",lane=\"{lane}\",tier=\"{tier}\"}} {n}");
        }
        render_holds(&mut out, &read.holds);
        let _ = writeln!(
            out,
            "# HELP switchyard_provider_errors_total Provider error replies, by provider and HTTP status.\n# TYPE switchyard_provider_errors_total counter"
        );
        for (provider, status, n) in &read.provider_errors {
            let _ =
                writeln!(out, "switchyard_provider_errors_total{{provider=\"{provider}\",status=\"{status}\"}} {n}");
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

/// What a scrape reads besides the counters.
pub(crate) struct Scraped {
    /// `(state, lane, tier, runs)`.
    pub depths: Vec<(String, String, i64, i64)>,
    /// The ledger's holds: `(state, holds, credits held, credits posted)`.
    pub holds: Vec<(String, i64, i64, i64)>,
    /// `(provider, status, errors)`.
    pub provider_errors: Vec<(&'static str, String, u64)>,
}

/// Credits held (open holds), posted and released, from the ledger's holds.
fn render_holds(out: &mut String, holds: &[(String, i64, i64, i64)]) {
    let open: i64 = holds.iter().filter(|h| matches!(h.0.as_str(), "pending" | "unknown")).map(|h| h.2).sum();
    let posted: i64 = holds.iter().map(|h| h.3).sum();
    let released: i64 =
        holds.iter().filter(|h| !matches!(h.0.as_str(), "pending" | "unknown")).map(|h| h.2 - h.3).sum();
    let _ = writeln!(
        out,
        "# HELP switchyard_credits_held Credits reserved by open holds.\n# TYPE switchyard_credits_held gauge\nswitchyard_credits_held {open}"
    );
    let _ = writeln!(
        out,
        "# HELP switchyard_credits_posted_total Credits charged by settled holds.\n# TYPE switchyard_credits_posted_total counter\nswitchyard_credits_posted_total {posted}"
    );
    let _ = writeln!(
        out,
        "# HELP switchyard_credits_voided_total Credits held and then released (voided, expired, or not charged).\n# TYPE switchyard_credits_voided_total counter\nswitchyard_credits_voided_total {released}"
    );
    let _ = writeln!(out, "# HELP switchyard_holds Holds by state.\n# TYPE switchyard_holds gauge");
    for (state, n, _, _) in holds {
        let _ = writeln!(out, "switchyard_holds{{state=\"{state}\"}} {n}");
    }
}
