//! `credits history` as people read it: one aligned row per transfer, in local time.

use chrono::TimeZone;
use switchyard_session::credits::TransferRecord;

/// The table, header first; times in `tz` (the machine's zone, or a fixed one in tests).
pub fn table<Tz: TimeZone>(records: &[TransferRecord], tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    if records.is_empty() {
        return "no transfers yet\n".to_string();
    }
    let header = ["when", "credits", "from", "to", "reason", "run", "node", "provider", "vendor id"];
    let rows: Vec<[String; 9]> = records.iter().map(|r| row(r, tz)).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    line(&mut out, &header.map(String::from), &widths);
    for r in &rows {
        line(&mut out, r, &widths);
    }
    out
}

fn row<Tz: TimeZone>(r: &TransferRecord, tz: &Tz) -> [String; 9]
where
    Tz::Offset: std::fmt::Display,
{
    let when = tz
        .timestamp_millis_opt(r.created_at_ms)
        .single()
        .map_or_else(|| format!("{} ms", r.created_at_ms), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    [
        when,
        r.amount.0.to_string(),
        r.debit.clone(),
        r.credit.clone(),
        r.reason.clone(),
        or_dash(&r.audit.run_id),
        or_dash(&r.audit.node_id),
        or_dash(&r.audit.provider),
        or_dash(&r.audit.vendor_id),
    ]
}

/// One row: credits right-aligned, the rest left, two spaces apart, no trailing blanks.
fn line(out: &mut String, cells: &[String; 9], widths: &[usize; 9]) {
    let mut text = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        let pad = w.saturating_sub(cell.chars().count());
        if i > 0 {
            text.push_str("  ");
        }
        if i == 1 {
            text.push_str(&" ".repeat(pad));
            text.push_str(cell);
        } else {
            text.push_str(cell);
            text.push_str(&" ".repeat(pad));
        }
    }
    out.push_str(text.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use switchyard_session::credits::{Audit, Credits};

    use super::*;

    fn record(amount: i64, reason: &str, at_ms: i64, provider: Option<&str>) -> TransferRecord {
        TransferRecord {
            id: 1,
            debit: "wallet:studio".into(),
            credit: "provider:bfl".into(),
            amount: Credits(amount),
            reason: reason.into(),
            hold_id: None,
            audit: Audit { provider: provider.map(String::from), ..Audit::default() },
            idempotency_key: None,
            created_at_ms: at_ms,
        }
    }

    #[test]
    fn history_reads_in_local_time_with_aligned_columns() {
        let plus_one = chrono::FixedOffset::east_opt(3600).unwrap();
        let records = [
            record(20_000, "plan:pro:2026-12", 1_796_560_018_788, None),
            record(8, "post", 1_796_560_100_000, Some("bfl")),
        ];
        let text = table(&records, &plus_one);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("2026-12-06 13:26:58    20000  wallet:studio"), "{text}");
        assert!(lines[2].starts_with("2026-12-06 13:28:20        8  wallet:studio"), "{text}");
        let column = |l: &str| l.find("provider:bfl");
        assert_eq!(column(lines[1]), column(lines[2]), "columns line up:\n{text}");
        assert!(lines[2].contains("  bfl"), "{text}");
        assert_eq!(table(&[], &plus_one), "no transfers yet\n");
    }
}
