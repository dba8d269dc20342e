//! `switchyard billing`: statements, the review queue, the billing audit trail, dunning and
//! customers, on a ledger file or a shared PostgreSQL ledger.

use anyhow::{Context, Result};
use switchyard_session::credits::ops::statement;
use switchyard_session::credits::{Decision, Ledger, LedgerError};

use super::Exit;
use super::args::{BillingArgs, BillingCommand};

pub fn run(args: BillingArgs) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ledger = match super::credits::open_for_ops(args.ledger.clone()).await? {
            Ok(ledger) => ledger,
            Err(exit) => return Ok(exit),
        };
        match command(&ledger, &args.command).await {
            Ok(exit) => Ok(exit),
            Err(e) => match e.downcast_ref::<LedgerError>() {
                Some(LedgerError::Database(_) | LedgerError::Migrate(_)) | None => Err(e),
                Some(refused) => {
                    eprintln!("error: {refused}");
                    Ok(Exit::Invalid)
                }
            },
        }
    })
}

async fn command(ledger: &Ledger, command: &BillingCommand) -> Result<Exit> {
    match command {
        BillingCommand::Statement { account, month, out, html } => {
            let s = statement::statement(ledger, account, month).await?;
            std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
            let stem = format!("statement-{}-{month}", account.replace(['/', '\\', ':'], "_"));
            let mut files = vec![
                (out.join(format!("{stem}.csv")), statement::csv(&s)),
                (out.join(format!("{stem}.json")), serde_json::to_string_pretty(&s)?),
            ];
            if *html {
                files.push((out.join(format!("{stem}.html")), statement::html(&s)));
            }
            for (path, text) in files {
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            println!(
                "{account} {month}: opening {} cr, granted {}, topped up {}, spent {}, expired {}, clawed back {}, closing {} cr",
                s.opening,
                s.grants.values().sum::<i64>(),
                s.topups.values().sum::<i64>(),
                s.spent(),
                s.breakage,
                s.clawed_back,
                s.closing
            );
        }
        BillingCommand::Reviews { prefix, all, json } => {
            let reviews = ledger.reviews(prefix, !all).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&reviews)?);
            } else {
                for r in &reviews {
                    let pause = if r.blocks == 1 && r.state == "open" { " (spending paused)" } else { "" };
                    println!("{}  {:<8} {:<20} {:<24} {}{pause}", r.id, r.state, r.rule, r.wallet, r.detail);
                }
                if reviews.is_empty() {
                    println!("no reviews");
                }
            }
        }
        BillingCommand::Review { decision, id, note, by } => {
            let decision = match decision.as_str() {
                "clear" => Decision::Clear,
                "uphold" => Decision::Uphold,
                other => {
                    eprintln!("error: the decision is clear or uphold, not {other:?}");
                    return Ok(Exit::Invalid);
                }
            };
            if note.trim().is_empty() {
                eprintln!("error: a decision needs a note saying why (--note)");
                return Ok(Exit::Invalid);
            }
            let r = ledger.decide_review(id, decision, by, note).await?;
            println!("{} {}: {} ({})", r.id, r.state, r.wallet, r.rule);
        }
        BillingCommand::Audit { prefix, json } => {
            let trail = ledger.billing_audit(prefix).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&trail)?);
            } else {
                for a in &trail {
                    let states = match (&a.from_state, &a.to_state) {
                        (Some(f), Some(t)) => format!(" {f} -> {t}"),
                        _ => String::new(),
                    };
                    println!("{:>6} {:<24} {:<10}{states}: {}", a.id, a.wallet, a.kind, a.detail);
                }
            }
        }
        BillingCommand::Alerts { prefix, json } => {
            let deliveries = ledger.deliveries(prefix, 1000).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&deliveries)?);
            } else {
                for d in &deliveries {
                    let error = d.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                    println!(
                        "{}  {:<10} {:<30} {:<24} attempts {}{error}",
                        d.id, d.state, d.event, d.wallet, d.attempts
                    );
                }
                if deliveries.is_empty() {
                    println!("no alerts for {prefix:?}");
                }
            }
        }
        BillingCommand::Sweep => {
            let suspended = ledger.sweep_dunning().await?;
            println!(
                "{} wallet(s) suspended for unpaid renewals{}",
                suspended.len(),
                if suspended.is_empty() { String::new() } else { format!(": {}", suspended.join(", ")) }
            );
        }
        BillingCommand::Bind { account, customer } => {
            ledger.bind_customer(account, customer).await?;
            println!("{customer} pays for {account}");
        }
    }
    Ok(Exit::Ok)
}
