//! The end-of-run summary: a table for people, or JSON with `--json`; and the exit code.

use serde::Serialize;
use switchyard_engine::cache::CacheStats;
use switchyard_engine::{NodeStatus, RunReport, RunStatus};

mod batch;

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
    /// Nodes left out because they lead to no output (see `--only`, `--all-nodes`).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pruned: &'a [String],
}

/// The line that says which nodes were pruned, naming the first few.
pub fn pruned_text(pruned: &[String]) -> String {
    const NAMED_MAX: usize = 8;
    let mut names = pruned.iter().take(NAMED_MAX).cloned().collect::<Vec<_>>().join(", ");
    if pruned.len() > NAMED_MAX {
        names.push_str(&format!(" and {} more", pruned.len() - NAMED_MAX));
    }
    format!("pruned {} node(s) that lead to no output: {names} (--all-nodes runs them)", pruned.len())
}

/// Prints the summary and returns the exit code.
pub fn print(
    reports: &[RunReport],
    args: &RunArgs,
    stats: CacheStats,
    (credits, pruned): (Option<&RunAccount>, &[String]),
    wall_ms: u64,
) -> Exit {
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
    let summary = Summary { status, counts, cache, peak_rss_mib: peak_rss_mib(), runs: reports, credits, pruned };
    if args.json {
        print_json(&summary, !args.events_json);
    } else {
        print_table(&summary, wall_ms);
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

pub fn overall(reports: &[RunReport]) -> RunStatus {
    let any = |s| reports.iter().any(|r| r.status == s);
    if any(RunStatus::Cancelled) {
        RunStatus::Cancelled
    } else if any(RunStatus::Failed) {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    }
}

/// Output buffered in blocks: a line at a time to unbuffered stderr cost a system call per
/// field on large graphs, and the whole text at once held a million nodes' lines in memory.
fn buffered<W: std::io::Write>(to: W) -> std::io::BufWriter<W> {
    std::io::BufWriter::with_capacity(64 * 1024, to)
}

/// The summary as JSON on stdout, written as it is serialised.
fn print_json(s: &Summary<'_>, pretty: bool) {
    use std::io::Write;
    let mut out = buffered(std::io::stdout().lock());
    let written = if pretty { serde_json::to_writer_pretty(&mut out, s) } else { serde_json::to_writer(&mut out, s) };
    let _ = written.map_err(std::io::Error::from).and_then(|()| writeln!(out)).and_then(|()| out.flush());
}

/// The summary for people, on stderr.
fn print_table(s: &Summary<'_>, wall_ms: u64) {
    use std::io::Write;
    let mut err = Text(buffered(std::io::stderr().lock()));
    write_table(&mut err, s, wall_ms);
    let _ = err.0.flush();
}

/// Text formatting into a byte sink (errors end the text: the reader has gone).
struct Text<W>(W);

impl<W: std::io::Write> std::fmt::Write for Text<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| std::fmt::Error)
    }
}

fn write_table(out: &mut impl std::fmt::Write, s: &Summary<'_>, wall_ms: u64) {
    if s.runs.iter().any(|r| r.item.is_some()) {
        batch::write(out, s.runs);
    } else {
        for r in s.runs {
            nodes(out, r);
        }
    }
    let c = &s.counts;
    let _ = writeln!(
        out,
        "{}: {} executed, {} cached, {} failed, {} skipped, {} cancelled in {}",
        format!("{:?}", s.status).to_lowercase(),
        c.executed,
        c.cached,
        c.failed,
        c.skipped,
        c.cancelled,
        duration_text(wall_ms)
    );
    if let Some(spent) = s.credits {
        super::spend::write(out, spent);
    }
    if let Some(mib) = s.peak_rss_mib {
        let _ = writeln!(out, "peak memory: {mib} MiB");
    }
}

/// A single run's nodes, one line each, with failures and the files written under them.
fn nodes(out: &mut impl std::fmt::Write, r: &RunReport) {
    // One buffer for every line's time: a million-line summary makes no string per line.
    let mut time = String::new();
    for n in &r.nodes {
        time.clear();
        if let Some(ms) = n.duration_ms {
            write_duration(&mut time, ms);
        }
        let status = n.status.as_str();
        let _ = writeln!(out, "  {:<20} {:<16} {:<9} {:>9}", n.id.as_str(), n.type_name, status, time);
        if let Some(err) = n.error()
            && n.status == NodeStatus::Failed
        {
            let _ = writeln!(out, "      {err}");
        }
        for f in n.files() {
            let _ = writeln!(out, "      wrote {}", f.display());
        }
    }
}

/// A duration as people read it: `120 ms`, `9.5 s`, `2 min 05 s`.
pub fn duration_text(ms: u64) -> String {
    let mut text = String::new();
    write_duration(&mut text, ms);
    text
}

fn write_duration(out: &mut String, ms: u64) {
    use std::fmt::Write as _;
    let _ = match ms {
        0..1_000 => write!(out, "{ms} ms"),
        1_000..60_000 => write!(out, "{:.1} s", ms as f64 / 1000.0),
        _ => write!(out, "{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    };
}
