//! `switchyard reconcile`: a provider's usage export against the ledger's charges.

use std::io::Write;

use anyhow::{Context, Result};
use switchyard_session::credits::Ledger;
use switchyard_session::credits::ops::reconcile::{self, Format, Options, Rates, Report, Settle};

use super::Exit;
use super::args::ReconcileArgs;

const DAY_MS: i64 = 86_400_000;

pub fn run(args: ReconcileArgs) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ledger = match super::credits::open_for_ops(args.ledger.clone()).await? {
            Ok(ledger) => ledger,
            Err(exit) => return Ok(exit),
        };
        if args.list {
            return list(&ledger, &args).await;
        }
        if let Some(id) = &args.show {
            return show(&ledger, id).await;
        }
        let opts = match options(&args) {
            Ok(opts) => opts,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
        };
        let mut inputs: Vec<(String, Box<dyn std::io::Read + Send>)> = Vec::new();
        for file in &args.usage {
            let opened = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
            inputs.push((file.display().to_string(), Box::new(opened)));
        }
        let report = match reconcile::reconcile(&ledger, inputs, &opts).await {
            Ok(report) => report,
            Err(reconcile::ReconcileError::Read(e)) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
            Err(e) => return Err(e.into()),
        };
        let mut stored = None;
        if !args.dry_run {
            let (posted, voided) = reconcile::apply(&ledger, &report).await?;
            if posted + voided > 0 {
                eprintln!("settled unknown holds from the export: {posted} posted, {voided} voided");
            }
            stored = Some(reconcile::store(&ledger, &report).await?);
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_report(&report, stored.as_deref())?;
        }
        Ok(if report.flagged { Exit::Failed } else { Exit::Ok })
    })
}

fn options(args: &ReconcileArgs) -> Result<Options, String> {
    let provider = args.provider.clone().unwrap_or_default();
    let to_ms = match &args.to {
        Some(day) => day_ms(day)?,
        None => (now_ms() / DAY_MS + 1) * DAY_MS,
    };
    let from_ms = match &args.from {
        Some(day) => day_ms(day)?,
        None => to_ms - 30 * DAY_MS,
    };
    if from_ms >= to_ms {
        return Err(format!("--from must be before --to ({} is not before {})", day(from_ms), day(to_ms)));
    }
    if !(0.0..=100.0).contains(&args.threshold) {
        return Err(format!("--threshold is a percent from 0 to 100, not {}", args.threshold));
    }
    let placement =
        switchyard_session::placement::PlacementOptions { catalog: args.catalog.clone(), ..Default::default() };
    let catalog = switchyard_session::placement::load_catalog(&placement).map_err(|e| e.to_string())?;
    let conversion = catalog.conversion;
    let mut opts = Options::new(&provider, from_ms, to_ms, conversion.usd_per_credit, conversion.margin);
    if let Some(format) = &args.format {
        opts.format = format.parse::<Format>()?;
    }
    opts.threshold_pct = args.threshold;
    opts.rates = Rates {
        replicate_usd_per_s: args.replicate_usd_per_s,
        elevenlabs_usd_per_1k: args.elevenlabs_usd_per_1k,
        ..Rates::default()
    };
    Ok(opts)
}

fn day_ms(text: &str) -> Result<i64, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let bad = || format!("{text:?} is not a day (YYYY-MM-DD)");
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    let (y, m, d): (i64, i64, i64) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(switchyard_session::credits::days_from_civil(y, m, d) * DAY_MS)
}

fn day(ms: i64) -> String {
    switchyard_session::credits::day_name(ms.div_euclid(DAY_MS))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn print_report(r: &Report, stored: Option<&str>) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{} from {} to {} ({})", r.provider, day(r.from_ms), day(r.to_ms), r.how)?;
    writeln!(out, "  rows       ledger {:>9}   export {:>9}   matched {:>9}", r.ledger_rows, r.vendor_rows, r.matched)?;
    writeln!(
        out,
        "  unmatched  ledger {:>9}   export {:>9}   differing {:>7}",
        r.ledger_only, r.vendor_only, r.differing
    )?;
    writeln!(out, "  total      ledger ${:>12.4}   export ${:>12.4}", r.ledger_usd, r.vendor_usd)?;
    let flag = if r.flagged { "FLAGGED" } else { "within" };
    writeln!(out, "  variance   {:+.2}% ({flag} the {:.1}% threshold)", r.variance_pct, r.threshold_pct)?;
    if r.unidentified.transfers > 0 {
        writeln!(
            out,
            "  no vendor id: {} charges, {} cr (matched by day only)",
            r.unidentified.transfers, r.unidentified.cost
        )?;
    }
    if !r.findings.is_empty() {
        writeln!(
            out,
            "\n  {:<18} {:<40} {:>12} {:>12} {:>10}",
            "finding", "id or day", "ledger $", "export $", "diff $"
        )?;
        for f in &r.findings {
            let kind = serde_json::to_value(f.kind)?.as_str().unwrap_or_default().to_string();
            let vendor = f.vendor_usd.map_or("-".to_string(), |v| format!("{v:.4}"));
            writeln!(out, "  {kind:<18} {:<40} {:>12.4} {vendor:>12} {:>+10.4}", f.key, f.ledger_usd, f.diff_usd)?;
        }
        if r.findings_total > r.findings.len() as u64 {
            writeln!(out, "  … {} more (--json for the kept ones)", r.findings_total - r.findings.len() as u64)?;
        }
    }
    for u in &r.unknown {
        let what = match u.settle {
            Settle::Post { charge, .. } => format!("post {charge} cr"),
            Settle::Void => "void".into(),
            Settle::Leave => "left unknown".into(),
        };
        writeln!(out, "  unknown hold {}: {what}: {}", u.hold, u.evidence)?;
    }
    match stored {
        Some(id) => writeln!(out, "\nstored as {id} (`switchyard reconcile --show {id}`)")?,
        None => writeln!(out, "\ndry run: nothing settled or stored")?,
    }
    Ok(())
}

async fn list(ledger: &Ledger, args: &ReconcileArgs) -> Result<Exit> {
    let reports = ledger.reports(args.provider.as_deref(), 100).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(Exit::Ok);
    }
    println!("{:<36} {:<12} {:<10} {:<10} flagged", "id", "provider", "from", "to");
    for r in reports {
        let flag = if r.flagged == 1 { "yes" } else { "no" };
        println!("{:<36} {:<12} {:<10} {:<10} {flag}", r.id, r.provider, day(r.from_ms), day(r.to_ms));
    }
    Ok(Exit::Ok)
}

async fn show(ledger: &Ledger, id: &str) -> Result<Exit> {
    match ledger.report(id).await? {
        Some(json) => {
            let value: serde_json::Value = serde_json::from_str(&json)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(Exit::Ok)
        }
        None => {
            eprintln!("error: no stored report {id}; `switchyard reconcile --list` lists them");
            Ok(Exit::Invalid)
        }
    }
}
