//! Reconciliation: what the ledger charged against what a provider says it performed.
//!
//! The export is read row by row into an external sort ([`sorted`]), the ledger's costs
//! are streamed in the same byte order of vendor id, and the two are merged: memory stays
//! bounded by one sort chunk and the findings kept, whatever the sizes. Providers whose
//! export has ids are matched row by row; OpenAI (daily totals) and CSVs without ids are
//! matched by UTC day. Unknown holds are settled from the same evidence: the vendor lists
//! the id (post), the vendor's window holds no such id (void), or no id to go by (left).

pub mod formats;
pub mod sorted;

use std::collections::HashMap;
use std::io::Read;

use futures::StreamExt;
use serde::Serialize;
use switchyard_ledger::{Credits, HoldId, HoldRecord, Ledger, LedgerError, Resolution, Unidentified};

pub use formats::{Format, Rates, UsageRow};

/// Why a reconciliation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The export could not be read.
    #[error("the usage export: {0}")]
    Read(String),
    /// A file or temporary file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What to reconcile, and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The provider (as the ledger names it: `replicate`).
    pub provider: String,
    /// The export's format.
    pub format: Format,
    /// The window the export covers (unix ms, from inclusive, to exclusive).
    pub from_ms: i64,
    /// Its end.
    pub to_ms: i64,
    /// The variance (percent of the vendor's total) above which the report is flagged.
    pub threshold_pct: f64,
    /// What one credit is worth in USD.
    pub usd_per_credit: f64,
    /// The platform's margin on provider cost (0.25), for charging a hold settled by post.
    pub margin: f64,
    /// Prices the export leaves out.
    pub rates: Rates,
    /// Findings kept in the report (the rest are counted).
    pub findings_max: usize,
    /// Rows per sort chunk.
    pub chunk_rows: usize,
}

impl Options {
    /// Defaults for `provider` over `[from_ms, to_ms)`: its usual format, a 2% threshold.
    pub fn new(provider: &str, from_ms: i64, to_ms: i64, usd_per_credit: f64, margin: f64) -> Self {
        Self {
            provider: provider.to_string(),
            format: Format::of_provider(provider),
            from_ms,
            to_ms,
            threshold_pct: 2.0,
            usd_per_credit,
            margin,
            rates: Rates::default(),
            findings_max: 1_000,
            chunk_rows: sorted::CHUNK_ROWS,
        }
    }
}

/// What a row-level finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Charged in the ledger, absent from the export.
    LedgerOnly,
    /// In the export, never charged (a leak), and no unknown hold to settle with it.
    VendorOnly,
    /// In both, with amounts more than a credit apart.
    Differs,
    /// Charged, though the provider reports it failed or cancelled.
    ChargedButFailed,
}

/// One row that does not reconcile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// What.
    pub kind: FindingKind,
    /// The vendor id, or the day.
    pub key: String,
    /// The ledger's cost in credits, if it has the row.
    pub ledger_credits: Option<i64>,
    /// The ledger's cost in USD.
    pub ledger_usd: f64,
    /// The vendor's cost in USD, if it has the row.
    pub vendor_usd: Option<f64>,
    /// Vendor minus ledger, in USD.
    pub diff_usd: f64,
}

/// How an unknown hold is settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Settle {
    /// The vendor performed it: charge this much (at most the hold), `cost` owed.
    Post {
        /// Charged to the wallet.
        charge: i64,
        /// Owed to the provider.
        cost: i64,
    },
    /// The vendor never took it: release the hold.
    Void,
    /// No evidence either way.
    Leave,
}

/// An unknown hold and what the evidence says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownHold {
    /// The hold.
    pub hold: String,
    /// Its vendor id, if the call returned one.
    pub vendor_id: Option<String>,
    /// What to do.
    #[serde(flatten)]
    pub settle: Settle,
    /// The evidence, recorded with the settlement.
    pub evidence: String,
}

/// A reconciliation's result.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The provider.
    pub provider: String,
    /// The export's format.
    pub format: Format,
    /// The export's files.
    pub sources: Vec<String>,
    /// The window (unix ms).
    pub from_ms: i64,
    /// Its end.
    pub to_ms: i64,
    /// Matched by id (else by day).
    pub by_id: bool,
    /// Ledger rows (ids, or days) in the window.
    pub ledger_rows: u64,
    /// Export rows (after joining rows of one id).
    pub vendor_rows: u64,
    /// Rows in both.
    pub matched: u64,
    /// Rows only in the ledger.
    pub ledger_only: u64,
    /// Rows only in the export (not counting those that settle an unknown hold).
    pub vendor_only: u64,
    /// Rows in both whose amounts differ by more than a credit.
    pub differing: u64,
    /// The ledger's total cost, USD.
    pub ledger_usd: f64,
    /// The export's total, USD.
    pub vendor_usd: f64,
    /// (vendor − ledger) / vendor, in percent.
    pub variance_pct: f64,
    /// The flag threshold.
    pub threshold_pct: f64,
    /// Whether |variance| is over the threshold.
    pub flagged: bool,
    /// Costs charged with no vendor id (matched only in a by-day reconciliation).
    pub unidentified: Unidentified,
    /// The first findings, in key order.
    pub findings: Vec<Finding>,
    /// How many findings there were in all.
    pub findings_total: u64,
    /// The provider's unknown holds and what the evidence says.
    pub unknown: Vec<UnknownHold>,
    /// How this provider is reconciled, in words.
    pub how: String,
}

impl Report {
    /// A report with nothing counted yet.
    fn empty(opts: &Options, sources: Vec<String>, by_id: bool, how: String) -> Self {
        Report {
            provider: opts.provider.clone(),
            format: opts.format,
            sources,
            from_ms: opts.from_ms,
            to_ms: opts.to_ms,
            by_id,
            ledger_rows: 0,
            vendor_rows: 0,
            matched: 0,
            ledger_only: 0,
            vendor_only: 0,
            differing: 0,
            ledger_usd: 0.0,
            vendor_usd: 0.0,
            variance_pct: 0.0,
            threshold_pct: opts.threshold_pct,
            flagged: false,
            unidentified: Unidentified::default(),
            findings: Vec::new(),
            findings_total: 0,
            unknown: Vec::new(),
            how,
        }
    }
}

/// How a provider's charges can be matched, in words (for the report).
pub fn how(provider: &str, by_id: bool) -> String {
    let base = if by_id {
        "matched row by row on the vendor's request or task id".to_string()
    } else {
        "matched by UTC day: the export has daily totals, not request ids".to_string()
    };
    let extra = match provider {
        "openai" => {
            "; OpenAI's Costs API has no request ids, so unknown holds stay unknown unless a day's totals settle them by hand"
        }
        "fal" => "; fal returns no usage: export fal's billing CSV by day (date, amount_usd) and it is matched by day",
        "ideogram" => "; Ideogram returns no id: its charges are matched by day against its billing export",
        "recraft" => "; Recraft's background removal returns no id: those charges are matched only by day",
        _ => "",
    };
    format!("{base}{extra}")
}

/// Reconciles `inputs` (named readers of one export, in `opts.format`) against the ledger.
/// Reading is synchronous; memory is bounded by one sort chunk and `findings_max`.
pub async fn reconcile(
    ledger: &Ledger,
    inputs: Vec<(String, Box<dyn Read + Send>)>,
    opts: &Options,
) -> Result<Report, ReconcileError> {
    if opts.format == Format::BflCredits {
        return balance_window(ledger, inputs, opts).await;
    }
    let mut sorter = sorted::Sorter::new(opts.chunk_rows);
    let mut sources = Vec::new();
    let mut by_id = true;
    for (name, input) in inputs {
        by_id = formats::read(opts.format, input, opts.rates, &mut |row| Ok(sorter.push(row)?))
            .map_err(|e| ReconcileError::Read(format!("{name}: {e}")))?;
        sources.push(name);
    }
    let mut vendor = Grouped { rows: sorter.finish()?.peekable() };
    let unknown = ledger.unknown_holds(&opts.provider).await?;
    let mut report = Report::empty(opts, sources, by_id, how(&opts.provider, by_id));
    let mut merge = Merge { opts, report: &mut report, pending: unknown_by_id(&unknown, by_id), settled: Vec::new() };
    if by_id {
        let mut costs = ledger.vendor_costs(&opts.provider, opts.from_ms, opts.to_ms);
        let mut next = costs.next().await.transpose()?.map(|c| (c.vendor_id, c.cost));
        loop {
            let v = vendor.peek_key();
            match (next.as_ref(), v) {
                (None, None) => break,
                (Some((lk, cost)), vk) if vk.is_none_or(|vk| lk.as_str() < vk) => {
                    merge.ledger_only(lk, *cost);
                    next = costs.next().await.transpose()?.map(|c| (c.vendor_id, c.cost));
                }
                (Some((lk, cost)), Some(vk)) if lk.as_str() == vk => {
                    let row = vendor.next_group()?;
                    merge.both(lk, *cost, &row);
                    next = costs.next().await.transpose()?.map(|c| (c.vendor_id, c.cost));
                }
                _ => {
                    let row = vendor.next_group()?;
                    merge.vendor_only(&row);
                }
            }
        }
        merge.report.unidentified = ledger.unidentified_costs(&opts.provider, opts.from_ms, opts.to_ms).await?;
    } else {
        let days = ledger.daily_costs(&opts.provider, opts.from_ms, opts.to_ms).await?;
        let mut days = days.into_iter().peekable();
        loop {
            let v = vendor.peek_key();
            match (days.peek(), v) {
                (None, None) => break,
                (Some((lk, cost)), vk) if vk.is_none_or(|vk| lk.as_str() < vk) => {
                    merge.ledger_only(lk, *cost);
                    days.next();
                }
                (Some((lk, cost)), Some(vk)) if lk.as_str() == vk => {
                    let row = vendor.next_group()?;
                    merge.both(lk, *cost, &row);
                    days.next();
                }
                _ => {
                    let row = vendor.next_group()?;
                    merge.vendor_only(&row);
                }
            }
        }
    }
    let settled = std::mem::take(&mut merge.settled);
    let pending = std::mem::take(&mut merge.pending);
    report.unknown = settle_rest(&unknown, settled, pending, opts, by_id);
    finish(&mut report);
    Ok(report)
}

/// A provider that gives only its balance (BFL): the drop between the balance at the window's
/// start and at its end against the ledger's costs in the window.
async fn balance_window(
    ledger: &Ledger,
    inputs: Vec<(String, Box<dyn Read + Send>)>,
    opts: &Options,
) -> Result<Report, ReconcileError> {
    if inputs.len() != 2 {
        return Err(ReconcileError::Read(format!(
            "bfl-credits takes two balances (--usage at the window's start, then at its end), not {}",
            inputs.len()
        )));
    }
    let mut balances = Vec::new();
    let mut sources = Vec::new();
    for (name, input) in inputs {
        formats::read(opts.format, input, opts.rates, &mut |row| {
            balances.push(row.usd);
            Ok(())
        })
        .map_err(|e| ReconcileError::Read(format!("{name}: {e}")))?;
        sources.push(name);
    }
    let used = balances[0] - balances[1];
    if used < 0.0 {
        return Err(ReconcileError::Read(
            "the balance rose between the two replies (credit bought in the window): take the snapshots around the purchase".into(),
        ));
    }
    let days = ledger.daily_costs(&opts.provider, opts.from_ms, opts.to_ms).await?;
    let ledger_credits: i64 = days.iter().map(|(_, c)| c).sum();
    let how = "matched as the window's total: BFL reports its credit balance, not each request";
    let mut report = Report::empty(opts, sources, false, how.into());
    let row = UsageRow { key: "window".into(), usd: used, failed: false };
    let mut merge = Merge { opts, report: &mut report, pending: HashMap::new(), settled: Vec::new() };
    merge.both("window", ledger_credits, &row);
    // One total stands for every day the ledger charged in the window.
    report.ledger_rows = days.len() as u64;
    let unknown = ledger.unknown_holds(&opts.provider).await?;
    report.unknown = settle_rest(&unknown, Vec::new(), HashMap::new(), opts, false);
    finish(&mut report);
    Ok(report)
}

/// Unknown holds by vendor id (by-id reconciliations only).
fn unknown_by_id(unknown: &[HoldRecord], by_id: bool) -> HashMap<String, HoldRecord> {
    if !by_id {
        return HashMap::new();
    }
    unknown.iter().filter_map(|h| Some((h.vendor_id.clone()?, h.clone()))).collect()
}

/// The unknown holds the export did not settle: void when the export's window covers the
/// call and lacks its id, else left unknown.
fn settle_rest(
    unknown: &[HoldRecord],
    mut settled: Vec<UnknownHold>,
    pending: HashMap<String, HoldRecord>,
    opts: &Options,
    by_id: bool,
) -> Vec<UnknownHold> {
    for hold in unknown {
        if settled.iter().any(|s| s.hold == hold.id) {
            continue;
        }
        let sent = hold.sent_at_ms.unwrap_or(hold.timeout_at_ms);
        let in_window = (opts.from_ms..opts.to_ms).contains(&sent);
        let (settle, evidence) = match (&hold.vendor_id, by_id) {
            (Some(id), true) if in_window && pending.contains_key(id) => (
                Settle::Void,
                format!(
                    "{} usage export for the window does not list {id}: the call was never performed",
                    opts.provider
                ),
            ),
            (Some(_), true) => (Settle::Leave, "the call was outside the export's window".to_string()),
            (None, _) => (Settle::Leave, "the call returned no vendor id to match".to_string()),
            (Some(_), false) => (Settle::Leave, "the export has totals, not ids".to_string()),
        };
        settled.push(UnknownHold { hold: hold.id.clone(), vendor_id: hold.vendor_id.clone(), settle, evidence });
    }
    settled
}

fn finish(report: &mut Report) {
    report.variance_pct = if report.vendor_usd > 0.0 {
        (report.vendor_usd - report.ledger_usd) / report.vendor_usd * 100.0
    } else if report.ledger_usd > 0.0 {
        -100.0
    } else {
        0.0
    };
    report.flagged = report.variance_pct.abs() > report.threshold_pct;
}

/// The merge's running state.
struct Merge<'a> {
    opts: &'a Options,
    report: &'a mut Report,
    /// Unknown holds not yet seen in the export, by vendor id.
    pending: HashMap<String, HoldRecord>,
    /// Unknown holds the export settled.
    settled: Vec<UnknownHold>,
}

impl Merge<'_> {
    fn usd(&self, credits: i64) -> f64 {
        credits as f64 * self.opts.usd_per_credit
    }

    /// How far one row's amounts may differ: a credit of rounding for a call; for a day's
    /// total (many calls, each rounded) also the variance threshold of the day's amount.
    fn tolerance(&self, vendor_usd: f64) -> f64 {
        let rounding = self.opts.usd_per_credit + 1e-9;
        match self.report.by_id {
            true => rounding,
            false => rounding.max(vendor_usd.abs() * self.opts.threshold_pct / 100.0),
        }
    }

    fn find(&mut self, finding: Finding) {
        self.report.findings_total += 1;
        if self.report.findings.len() < self.opts.findings_max {
            self.report.findings.push(finding);
        }
    }

    fn ledger_only(&mut self, key: &str, cost: i64) {
        let usd = self.usd(cost);
        self.report.ledger_rows += 1;
        self.report.ledger_only += 1;
        self.report.ledger_usd += usd;
        let f = Finding {
            kind: FindingKind::LedgerOnly,
            key: key.to_string(),
            ledger_credits: Some(cost),
            ledger_usd: usd,
            vendor_usd: None,
            diff_usd: -usd,
        };
        self.find(f);
    }

    fn both(&mut self, key: &str, cost: i64, row: &UsageRow) {
        let usd = self.usd(cost);
        self.report.ledger_rows += 1;
        self.report.vendor_rows += 1;
        self.report.matched += 1;
        self.report.ledger_usd += usd;
        self.report.vendor_usd += row.usd;
        let diff = row.usd - usd;
        let kind = if row.failed && cost > 0 {
            Some(FindingKind::ChargedButFailed)
        } else if diff.abs() > self.tolerance(row.usd) {
            Some(FindingKind::Differs)
        } else {
            None
        };
        if let Some(kind) = kind {
            self.report.differing += u64::from(kind == FindingKind::Differs);
            let f = Finding {
                kind,
                key: key.to_string(),
                ledger_credits: Some(cost),
                ledger_usd: usd,
                vendor_usd: Some(row.usd),
                diff_usd: diff,
            };
            self.find(f);
        }
    }

    fn vendor_only(&mut self, row: &UsageRow) {
        self.report.vendor_rows += 1;
        self.report.vendor_usd += row.usd;
        if let Some(hold) = self.pending.remove(&row.key) {
            // The vendor performed an unknown call: it is charged now, so both sides count it.
            let cost = (row.usd / self.opts.usd_per_credit - 1e-9).ceil().max(0.0) as i64;
            let charge = ((row.usd * (1.0 + self.opts.margin) / self.opts.usd_per_credit - 1e-9).ceil().max(0.0)
                as i64)
                .clamp(cost.min(hold.amount), hold.amount);
            self.report.ledger_usd += self.usd(cost.min(charge));
            let evidence = format!(
                "{} usage export lists {} at ${:.4}{}",
                self.opts.provider,
                row.key,
                row.usd,
                if row.failed { " (failed, still billed)" } else { "" }
            );
            let settle = if row.failed && row.usd <= 0.0 {
                Settle::Void
            } else {
                Settle::Post { charge, cost: cost.min(charge) }
            };
            self.settled.push(UnknownHold { hold: hold.id, vendor_id: Some(row.key.clone()), settle, evidence });
            return;
        }
        self.report.vendor_only += 1;
        let f = Finding {
            kind: FindingKind::VendorOnly,
            key: row.key.clone(),
            ledger_credits: None,
            ledger_usd: 0.0,
            vendor_usd: Some(row.usd),
            diff_usd: row.usd,
        };
        self.find(f);
    }
}

/// Export rows in key order, rows of one key joined.
struct Grouped {
    rows: std::iter::Peekable<sorted::Sorted>,
}

impl Grouped {
    fn peek_key(&mut self) -> Option<&str> {
        match self.rows.peek() {
            Some(Ok(row)) => Some(row.key.as_str()),
            // An error is returned by the next call to next_group.
            Some(Err(_)) => Some(""),
            None => None,
        }
    }

    fn next_group(&mut self) -> Result<UsageRow, ReconcileError> {
        let mut row = match self.rows.next() {
            Some(row) => row?,
            None => return Err(ReconcileError::Read("the export ended early".into())),
        };
        while let Some(Ok(next)) = self.rows.peek() {
            if next.key != row.key {
                break;
            }
            row.usd += next.usd;
            row.failed |= next.failed;
            self.rows.next();
        }
        Ok(row)
    }
}

/// Stores `report` in the ledger; returns its id.
pub async fn store(ledger: &Ledger, report: &Report) -> Result<String, ReconcileError> {
    let json = serde_json::to_string(report).map_err(|e| ReconcileError::Read(e.to_string()))?;
    Ok(ledger.save_report(&report.provider, (report.from_ms, report.to_ms), report.flagged, &json).await?)
}

/// Settles the report's unknown holds in the ledger (post or void, with their evidence);
/// returns how many were posted and voided. Keyed by the hold, so a second run replays.
pub async fn apply(ledger: &Ledger, report: &Report) -> Result<(usize, usize), ReconcileError> {
    let (mut posted, mut voided) = (0, 0);
    for u in &report.unknown {
        let hold = HoldId(u.hold.clone());
        let key = format!("reconcile:{}", u.hold);
        match u.settle {
            Settle::Post { charge, cost } => {
                let resolution = Resolution::Post { charge: Credits(charge), cost: Credits(cost) };
                ledger.resolve(&hold, resolution, &u.evidence, &key).await?;
                posted += 1;
            }
            Settle::Void => {
                ledger.resolve(&hold, Resolution::Void, &u.evidence, &key).await?;
                voided += 1;
            }
            Settle::Leave => {}
        }
    }
    Ok((posted, voided))
}
