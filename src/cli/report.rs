//! `switchyard report usage`: a month's usage as a table and charts.

use anyhow::Result;
use switchyard_session::credits::LedgerError;
use switchyard_session::credits::ops::usage;

use super::Exit;
use super::args::UsageArgs;

pub fn usage(args: UsageArgs) -> Result<Exit> {
    let month = args.month.clone().unwrap_or_else(this_month);
    if usage::days_of(&month).is_none() {
        eprintln!("error: --month {month:?} is not a month (YYYY-MM)");
        return Ok(Exit::Invalid);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ledger = match super::credits::open_for_ops(args.ledger.clone()).await? {
            Ok(ledger) => ledger,
            Err(exit) => return Ok(exit),
        };
        if !args.account.ends_with('/')
            && matches!(ledger.balance(&args.account).await, Err(LedgerError::UnknownWallet(_)))
        {
            eprintln!("error: no account {:?} in the ledger", args.account);
            return Ok(Exit::Invalid);
        }
        let report = usage::report(&ledger, &args.account, &month).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(Exit::Ok);
        }
        print!("{}", usage::table(&report));
        match usage::write_charts(&report, &args.out) {
            Ok(files) => {
                println!();
                for f in files {
                    println!("wrote {}", f.display());
                }
                Ok(Exit::Ok)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(Exit::Failed)
            }
        }
    })
}

fn this_month() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let day = switchyard_session::credits::day_name(now.div_euclid(86_400_000));
    day[..7].to_string()
}
