//! A wallet's monthly statement, from the ledger's transfers: the opening and closing
//! balance, grants and top-ups, spend per provider and member (and per node type from the
//! run records), breakage, rollover and claw-backs; as CSV, JSON and printable HTML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use switchyard_ledger::{Dim, Ledger, LedgerError, TransferRecord};

/// A month's statement.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Statement {
    /// The wallet.
    pub account: String,
    /// The month (`2026-11`).
    pub month: String,
    /// Credits in the wallet's lots when the month began.
    pub opening: i64,
    /// Credits in them when it ended (or now, for the current month).
    pub closing: i64,
    /// Plan and promotional grants, by reason (`plan:pro:2026-11`).
    pub grants: BTreeMap<String, i64>,
    /// Bought packs, by reason (`pack:500`).
    pub topups: BTreeMap<String, i64>,
    /// Charges by provider.
    pub spend_by_provider: BTreeMap<String, i64>,
    /// Charges by team member (`-`: none named).
    pub spend_by_member: BTreeMap<String, i64>,
    /// Charges by node type (from the run records).
    pub spend_by_node_type: BTreeMap<String, i64>,
    /// Credit that expired unspent.
    pub breakage: i64,
    /// Credit carried into the next month's lot.
    pub rollover: i64,
    /// Credit taken back for refunds and lost disputes.
    pub clawed_back: i64,
}

impl Statement {
    /// All charges.
    pub fn spent(&self) -> i64 {
        self.spend_by_provider.values().sum()
    }
}

/// The statement of `wallet` for `month` (`YYYY-MM`).
pub async fn statement(ledger: &Ledger, wallet: &str, month: &str) -> Result<Statement, LedgerError> {
    let days = crate::usage::days_of(month)
        .ok_or_else(|| LedgerError::InvalidAmount(format!("{month:?} is not a month (YYYY-MM)")))?;
    ledger.balance(wallet).await?;
    let start = day_ms(&days[0]);
    let end = start + days.len() as i64 * 86_400_000;
    let lots: std::collections::BTreeSet<String> = ledger.lots_of(wallet).await?.into_iter().collect();
    let is_lot = |account: &str| lots.contains(account);
    let mut s = Statement { account: wallet.to_string(), month: month.to_string(), ..Statement::default() };
    for t in ledger.history(Some(wallet)).await? {
        let delta = match (is_lot(&t.debit), is_lot(&t.credit)) {
            (true, true) => 0,
            (false, true) => t.amount.0,
            (true, false) => -t.amount.0,
            (false, false) => 0,
        };
        if t.created_at_ms < start {
            s.opening += delta;
        }
        if t.created_at_ms < end {
            s.closing += delta;
        }
        if (start..end).contains(&t.created_at_ms) {
            classify(&mut s, &t, is_lot(&t.debit), is_lot(&t.credit));
        }
    }
    s.spend_by_member = ledger.spend_by_member(wallet, start, end).await?.into_iter().collect();
    let next = crate::usage::days_of(month).and_then(|d| d.last().cloned()).unwrap_or_default();
    let to = switchyard_ledger::plans::day_name(day_ms(&next) / 86_400_000 + 1);
    for row in ledger.usage(wallet, (&days[0], &to), &[Dim::NodeType]).await? {
        if row.credits > 0 && !row.key.is_empty() {
            s.spend_by_node_type.insert(row.key, row.credits);
        }
    }
    Ok(s)
}

fn classify(s: &mut Statement, t: &TransferRecord, from_lot: bool, to_lot: bool) {
    let amount = t.amount.0;
    match (from_lot, to_lot, t.reason.as_str()) {
        (true, true, _) => s.rollover += amount,
        (false, true, _) if t.debit == "source:pack" => *s.topups.entry(t.reason.clone()).or_default() += amount,
        (false, true, _) => *s.grants.entry(t.reason.clone()).or_default() += amount,
        (true, false, "charge") => {
            let provider = t.audit.provider.clone().unwrap_or_else(|| "unknown".into());
            *s.spend_by_provider.entry(provider).or_default() += amount;
        }
        (true, false, "grant_expired") => s.breakage += amount,
        (true, false, "clawback") => s.clawed_back += amount,
        _ => {}
    }
}

fn day_ms(day: &str) -> i64 {
    let part = |a: usize, b: usize| day.get(a..b).and_then(|p| p.parse::<i64>().ok()).unwrap_or(1);
    switchyard_ledger::plans::days_from_civil(part(0, 4), part(5, 7), part(8, 10)) * 86_400_000
}

/// Every line of the statement as `section,key,credits` CSV.
pub fn csv(s: &Statement) -> String {
    let mut out = String::from("section,key,credits\n");
    let mut line = |section: &str, key: &str, credits: i64| {
        let _ = writeln!(out, "{section},{},{credits}", csv_field(key));
    };
    line("balance", "opening", s.opening);
    for (section, map) in [
        ("grant", &s.grants),
        ("topup", &s.topups),
        ("spend_provider", &s.spend_by_provider),
        ("spend_member", &s.spend_by_member),
        ("spend_node_type", &s.spend_by_node_type),
    ] {
        for (k, v) in map {
            line(section, k, *v);
        }
    }
    line("breakage", "expired", s.breakage);
    line("rollover", "carried", s.rollover);
    line("clawback", "refunds and disputes", s.clawed_back);
    line("balance", "closing", s.closing);
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// The statement as a printable HTML page (no script, no outside resource).
pub fn html(s: &Statement) -> String {
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut rows = String::new();
    let mut row = |label: &str, credits: i64| {
        let _ = write!(rows, "<tr><td>{}</td><td class=n>{credits}</td></tr>", esc(label));
    };
    row("Opening balance", s.opening);
    for (k, v) in &s.grants {
        row(&format!("Grant {k}"), *v);
    }
    for (k, v) in &s.topups {
        row(&format!("Top-up {k}"), *v);
    }
    for (k, v) in &s.spend_by_provider {
        row(&format!("Spend: {k}"), -*v);
    }
    row("Breakage (expired)", -s.breakage);
    row("Claw-backs", -s.clawed_back);
    row("Closing balance", s.closing);
    let mut members = String::new();
    for (k, v) in &s.spend_by_member {
        let _ = write!(members, "<tr><td>{}</td><td class=n>{v}</td></tr>", esc(k));
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Statement {a} {m}</title><style>body{{font-family:sans-serif;margin:2em}}\
         table{{border-collapse:collapse;min-width:28em}}td{{border-bottom:1px solid #ddd;padding:.3em .6em}}.n{{text-align:right}}</style></head>\
         <body><h1>Statement for {a}, {m}</h1><p>In credits. Rolled over to next month: {r}.</p><table>{rows}</table>\
         <h2>Spend per member</h2><table>{members}</table></body></html>",
        a = esc(&s.account),
        m = esc(&s.month),
        r = s.rollover
    )
}
