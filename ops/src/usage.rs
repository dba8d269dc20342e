//! A month's usage report for a wallet (or every wallet under a prefix, such as a tenant's
//! `acme/`): totals by provider, model, node type, member and day; members' spend against
//! their caps; local work's share and what it saved; and the three charts.

use serde::Serialize;
use switchyard_ledger::{Dim, Ledger, LedgerError, UsageTotals};

use crate::charts::{Chart, ChartError, DaySeries};

/// A month's usage.
#[derive(Clone, Debug, Serialize)]
pub struct UsageReport {
    /// The wallet, or the prefix of the wallets.
    pub account: String,
    /// The month (`2026-11`).
    pub month: String,
    /// All of it.
    pub total: Option<UsageTotals>,
    /// By provider (`local` for local work).
    pub by_provider: Vec<UsageTotals>,
    /// By model.
    pub by_model: Vec<UsageTotals>,
    /// By node type.
    pub by_node_type: Vec<UsageTotals>,
    /// By member.
    pub by_member: Vec<UsageTotals>,
    /// By day.
    pub by_day: Vec<UsageTotals>,
    /// Credits per day, a series per provider.
    #[serde(skip)]
    pub per_day: DaySeries,
    /// Cloud credits and local savings per day.
    #[serde(skip)]
    pub savings: DaySeries,
    /// Each member's spend this month and cap.
    pub caps: Vec<(String, i64, i64)>,
}

/// The days of `month` (`YYYY-MM`), or `None` when it is not a month.
pub fn days_of(month: &str) -> Option<Vec<String>> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || month.len() != 7 {
        return None;
    }
    let first = switchyard_ledger::plans::days_from_civil(y, m, 1);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let next = switchyard_ledger::plans::days_from_civil(ny, nm, 1);
    Some((first..next).map(switchyard_ledger::plans::day_name).collect())
}

/// The days `[first, day after last)` of `month`, as `YYYY-MM-DD`.
pub fn window(month: &str) -> Option<(String, String)> {
    let days = days_of(month)?;
    let last = days.last()?;
    Some((days[0].clone(), next_day(last)))
}

/// Builds the report of `account` (a wallet, or a prefix ending in `/`) for `month`.
pub async fn report(ledger: &Ledger, account: &str, month: &str) -> Result<UsageReport, LedgerError> {
    let days =
        days_of(month).ok_or_else(|| LedgerError::InvalidAmount(format!("{month:?} is not a month (YYYY-MM)")))?;
    let next = next_day(days.last().map(String::as_str).unwrap_or_default());
    let window = (days[0].as_str(), next.as_str());
    let prefix = account.to_string();
    let total = ledger.usage(&prefix, window, &[]).await?.into_iter().next();
    let by = |dims: &'static [Dim]| ledger.usage(&prefix, window, dims);
    let by_provider = by(&[Dim::Provider]).await?;
    let by_model = by(&[Dim::Provider, Dim::Model]).await?;
    let by_node_type = by(&[Dim::NodeType]).await?;
    let by_member = by(&[Dim::Member]).await?;
    let by_day = by(&[Dim::Day]).await?;
    let day_provider = by(&[Dim::Day, Dim::Provider]).await?;
    let providers: Vec<String> = by_provider.iter().filter(|p| p.key != "local").map(|p| p.key.clone()).collect();
    let mut per_day = DaySeries { days: days.clone(), series: Vec::new() };
    for provider in &providers {
        let values = days
            .iter()
            .map(|d| day_provider.iter().find(|r| r.key == format!("{d}|{provider}")).map_or(0, |r| r.credits))
            .collect();
        per_day.series.push((provider.clone(), values));
    }
    let day_value = |d: &str, f: fn(&UsageTotals) -> i64| by_day.iter().find(|r| r.key == d).map_or(0, f);
    let savings = DaySeries {
        days: days.clone(),
        series: vec![
            ("cloud spend".into(), days.iter().map(|d| day_value(d, |r| r.credits)).collect()),
            ("saved by local work".into(), days.iter().map(|d| day_value(d, |r| r.savings)).collect()),
        ],
    };
    // Each member's spend this month (from the usage), against their cap (0: none).
    let mut caps: Vec<(String, i64, i64)> =
        by_member.iter().filter(|m| m.key != "-").map(|m| (m.key.clone(), m.credits, 0)).collect();
    let wallets = match account.ends_with('/') {
        true => ledger.wallets(account).await?,
        false => vec![account.to_string()],
    };
    for wallet in wallets {
        for m in ledger.members(&wallet).await? {
            match caps.iter_mut().find(|c| c.0 == m.member) {
                Some(c) => c.2 += m.cap,
                None => caps.push((m.member.clone(), 0, m.cap)),
            }
        }
    }
    caps.sort();
    Ok(UsageReport {
        account: account.to_string(),
        month: month.to_string(),
        total,
        by_provider,
        by_model,
        by_node_type,
        by_member,
        by_day,
        per_day,
        savings,
        caps,
    })
}

fn next_day(day: &str) -> String {
    let parse = |a: usize, b: usize| day.get(a..b).and_then(|s| s.parse::<i64>().ok()).unwrap_or(1);
    let days = switchyard_ledger::plans::days_from_civil(parse(0, 4), parse(5, 7), parse(8, 10));
    switchyard_ledger::plans::day_name(days + 1)
}

/// The report's charts, each with its file stem.
pub fn charts(r: &UsageReport) -> Vec<(&'static str, Chart<'_>)> {
    vec![
        ("credits-per-day", Chart::Stacked { title: "Credits per day by provider", unit: "credits", data: &r.per_day }),
        ("members", Chart::Caps { title: "Spend per member against their caps", data: &r.caps }),
        (
            "local-vs-cloud",
            Chart::Stacked { title: "Cloud spend and what local work saved", unit: "credits", data: &r.savings },
        ),
    ]
}

/// Writes each chart as `STEM.svg` and `STEM.png` under `dir`; returns the files.
pub fn write_charts(r: &UsageReport, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, ChartError> {
    std::fs::create_dir_all(dir).map_err(|e| ChartError::Draw(format!("{}: {e}", dir.display())))?;
    let mut written = Vec::new();
    for (stem, chart) in charts(r) {
        let svg = crate::charts::svg(&chart)?;
        let png = crate::charts::png(&chart)?;
        for (ext, bytes) in [("svg", svg.into_bytes()), ("png", png)] {
            let path = dir.join(format!("{stem}.{ext}"));
            std::fs::write(&path, bytes).map_err(|e| ChartError::Draw(format!("{}: {e}", path.display())))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The report as text: the totals, then a table per dimension.
pub fn table(r: &UsageReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "usage of {} in {}", r.account, r.month);
    let Some(t) = &r.total else {
        let _ = writeln!(out, "no billed runs recorded");
        return out;
    };
    let _ = writeln!(
        out,
        "{} cr over {} runs ({:.1} cr a run), {} nodes ({} failed), {:.2} gCO2eq; {:.0}% of nodes ran locally, saving {} cr",
        t.credits,
        t.runs,
        t.credits_per_run(),
        t.calls,
        t.failures,
        t.mg_co2eq as f64 / 1000.0,
        t.local_share() * 100.0,
        t.savings
    );
    for (title, rows) in [
        ("provider", &r.by_provider),
        ("provider|model", &r.by_model),
        ("node type", &r.by_node_type),
        ("member", &r.by_member),
        ("day", &r.by_day),
    ] {
        let _ = writeln!(
            out,
            "\n{title:<44} {:>10} {:>7} {:>8} {:>10} {:>10} {:>8}",
            "credits", "nodes", "failed", "cr/run", "gCO2eq", "local %"
        );
        for row in rows.iter() {
            let _ = writeln!(
                out,
                "{:<44} {:>10} {:>7} {:>8} {:>10.1} {:>10.2} {:>8.0}",
                row.key,
                row.credits,
                row.calls,
                row.failures,
                row.credits_per_run(),
                row.mg_co2eq as f64 / 1000.0,
                row.local_share() * 100.0
            );
        }
    }
    if !r.caps.is_empty() {
        let _ = writeln!(out, "\n{:<44} {:>10} {:>10}", "member", "spent", "cap");
        for (member, spent, cap) in &r.caps {
            let _ = writeln!(out, "{member:<44} {spent:>10} {cap:>10}");
        }
    }
    out
}
