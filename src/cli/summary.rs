//! The end-of-run summary: a table for people, or JSON with `--json`; and the exit code.

use serde::Serialize;
use switchyard_engine::cache::CacheStats;
use switchyard_engine::{NodeStatus, RunReport, RunStatus};

use super::Exit;
use super::args::RunArgs;
use switchyard_session::account::RunAccount;

#[derive(Serialize, Default)]
struct Counts {
    executed: usize,
    cached: usize,
    failed: usize,
    skipped: usize,
    cancelled: usize,
}

#[derive(Serialize)]
struct CacheSummary {
    memory_hits: u64,
    disk_hits: u64,
    misses: u64,
}

#[derive(Serialize)]
struct Summary<'a> {
    status: RunStatus,
    counts: Counts,
    cache: CacheSummary,
    /// The process's peak resident memory so far, where the OS tells it (Linux).
    peak_rss_mib: Option<u64>,
    /// One run, or one per batch item.
    runs: &'a [RunReport],
    /// Credits quoted and charged, and gCO2eq, when the workflow has cloud-capable nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    credits: Option<&'a RunAccount>,
}

/// Prints the summary and returns the exit code.
pub fn print(reports: &[RunReport], args: &RunArgs, stats: CacheStats, credits: Option<&RunAccount>) -> Exit {
    let status = overall(reports);
    let mut counts = Counts::default();
    for r in reports {
        counts.executed += r.count(NodeStatus::Executed);
        counts.cached += r.count(NodeStatus::Cached);
        counts.failed += r.count(NodeStatus::Failed);
        counts.skipped += r.count(NodeStatus::Skipped);
        counts.cancelled += r.count(NodeStatus::Cancelled);
    }
    let cache = CacheSummary { memory_hits: stats.memory_hits, disk_hits: stats.disk_hits, misses: stats.misses };
    let summary = Summary { status, counts, cache, peak_rss_mib: peak_rss_mib(), runs: reports, credits };
    if args.json {
        let text =
            if args.events_json { serde_json::to_string(&summary) } else { serde_json::to_string_pretty(&summary) };
        println!("{}", text.unwrap_or_default());
    } else {
        print_table(&summary);
    }
    match status {
        RunStatus::Succeeded => Exit::Ok,
        RunStatus::Failed => Exit::Failed,
        RunStatus::Cancelled => Exit::Cancelled,
    }
}

/// `VmHWM` from `/proc/self/status`: the high-water mark of resident memory.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn overall(reports: &[RunReport]) -> RunStatus {
    let any = |s| reports.iter().any(|r| r.status == s);
    if any(RunStatus::Cancelled) {
        RunStatus::Cancelled
    } else if any(RunStatus::Failed) {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    }
}

fn print_table(s: &Summary<'_>) {
    for r in s.runs {
        if let Some(item) = &r.item {
            eprintln!("item {item}:");
        }
        for n in r.nodes.iter().filter(|n| n.status != NodeStatus::Cached || s.runs.len() == 1) {
            let time = n.duration_ms.map_or_else(String::new, |ms| format!("{ms} ms"));
            eprintln!(
                "  {:<20} {:<16} {:<9} {:>9}",
                n.id.as_str(),
                n.type_name,
                format!("{:?}", n.status).to_lowercase(),
                time
            );
            if let Some(err) = &n.error
                && n.status == NodeStatus::Failed
            {
                eprintln!("      {err}");
            }
            for f in &n.files {
                eprintln!("      wrote {}", f.display());
            }
        }
    }
    let c = &s.counts;
    eprintln!(
        "{}: {} executed, {} cached, {} failed, {} skipped, {} cancelled",
        format!("{:?}", s.status).to_lowercase(),
        c.executed,
        c.cached,
        c.failed,
        c.skipped,
        c.cancelled
    );
    if let Some(spent) = s.credits {
        super::spend::print(spent);
    }
    if let Some(mib) = s.peak_rss_mib {
        eprintln!("peak memory: {mib} MiB");
    }
}
