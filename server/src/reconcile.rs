//! Reconciliation on a server: the operator's `/v1/ops/reconciliations` (post an export,
//! list and read the stored reports), and the nightly job over a usage inbox. A fetcher (a
//! cron job with the providers' own tools) drops each provider's export into
//! `INBOX/PROVIDER/FROM_TO.EXT` (days, `2026-11-01_2026-12-01.json`); the job reconciles each
//! new file, settles unknown holds from it, stores the report, and moves the file to
//! `INBOX/done/PROVIDER/` (or `INBOX/failed/PROVIDER/`, with a `.error` note beside it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchyard_session::credits::Ledger;
use switchyard_session::credits::ops::reconcile::{self, Format, Options, Report};
use tokio_util::sync::CancellationToken;

use crate::App;

/// Exports larger than this are refused (a month of a busy provider is well under it).
pub const EXPORT_MAX_BYTES: usize = 2 * 1024 * 1024 * 1024;

/// What to reconcile: the provider, format, window and threshold.
pub(crate) struct Job {
    pub provider: String,
    pub format: Option<Format>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub threshold_pct: Option<f64>,
}

/// Reconciles the export in `file`, settles unknown holds, stores the report.
pub(crate) async fn run_file(app: &App, ledger: &Ledger, job: &Job, file: &Path) -> Result<(String, Report), String> {
    let conversion = app.catalog.conversion;
    let mut opts = Options::new(&job.provider, job.from_ms, job.to_ms, conversion.usd_per_credit, conversion.margin);
    if let Some(format) = job.format {
        opts.format = format;
    }
    if let Some(t) = job.threshold_pct {
        opts.threshold_pct = t;
    }
    let input = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let report = reconcile::reconcile(ledger, vec![(name, Box::new(input))], &opts).await.map_err(|e| e.to_string())?;
    reconcile::apply(ledger, &report).await.map_err(|e| e.to_string())?;
    let id = reconcile::store(ledger, &report).await.map_err(|e| e.to_string())?;
    if report.flagged {
        tracing::warn!(provider = %report.provider, variance_pct = report.variance_pct, report = %id, "reconciliation flagged");
    }
    Ok((id, report))
}

/// A day (`YYYY-MM-DD`) as unix ms.
pub(crate) fn day_ms(day: &str) -> Option<i64> {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (day[..4].parse().ok()?, day[5..7].parse().ok()?, day[8..].parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(switchyard_session::credits::days_from_civil(y, m, d) * 86_400_000)
}

/// The job a dropped file names: `PROVIDER/FROM_TO.EXT`.
fn job_of(provider: &str, file: &Path) -> Result<Job, String> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let (from, to) =
        stem.split_once('_').ok_or_else(|| format!("{stem:?} is not FROM_TO (days, YYYY-MM-DD_YYYY-MM-DD)"))?;
    let (from_ms, to_ms) = (day_ms(from), day_ms(to));
    let (Some(from_ms), Some(to_ms)) = (from_ms, to_ms) else {
        return Err(format!("{stem:?}: the days are YYYY-MM-DD"));
    };
    if from_ms >= to_ms {
        return Err(format!("{stem:?}: FROM must be before TO"));
    }
    let csv = file.extension().is_some_and(|e| e == "csv");
    let format = if csv { Some(Format::Csv) } else { None };
    Ok(Job { provider: provider.to_string(), format, from_ms, to_ms, threshold_pct: None })
}

/// Every `interval`, reconciles what the inbox holds, until `shutdown`.
pub(crate) async fn nightly(app: Arc<App>, inbox: PathBuf, interval: Duration, shutdown: CancellationToken) {
    loop {
        if let Ok(ledger) = app.ledger().await {
            scan(&app, ledger, &inbox).await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// One pass over the inbox; returns how many files were reconciled.
pub(crate) async fn scan(app: &App, ledger: &Ledger, inbox: &Path) -> usize {
    let mut done = 0;
    let Ok(providers) = std::fs::read_dir(inbox) else { return 0 };
    for provider in providers.flatten().take(100) {
        let name = provider.file_name().to_string_lossy().to_string();
        if name == "done" || name == "failed" || !provider.path().is_dir() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(provider.path()) else { continue };
        let mut files: Vec<PathBuf> = files.flatten().map(|f| f.path()).filter(|p| p.is_file()).take(1000).collect();
        files.sort();
        for file in files {
            let outcome = match job_of(&name, &file) {
                Ok(job) => run_file(app, ledger, &job, &file).await.map(|(id, _)| id),
                Err(e) => Err(e),
            };
            let (to, note) = match &outcome {
                Ok(id) => ("done", format!("stored as {id}\n")),
                Err(e) => ("failed", format!("{e}\n")),
            };
            if let Err(e) = file_away(inbox, &name, &file, to, &note) {
                tracing::warn!(error = %e, file = %file.display(), "reconciliation inbox: cannot move the file");
                continue;
            }
            match outcome {
                Ok(_) => done += 1,
                Err(e) => tracing::warn!(error = %e, file = %file.display(), "reconciliation failed"),
            }
        }
    }
    done
}

fn file_away(inbox: &Path, provider: &str, file: &Path, to: &str, note: &str) -> std::io::Result<()> {
    let dir = inbox.join(to).join(provider);
    std::fs::create_dir_all(&dir)?;
    let name = file.file_name().unwrap_or_default();
    std::fs::rename(file, dir.join(name))?;
    std::fs::write(
        dir.join(format!("{}.{}", name.to_string_lossy(), if to == "done" { "report" } else { "error" })),
        note,
    )
}
