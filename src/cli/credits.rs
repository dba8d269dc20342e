//! `switchyard credits`: the wallet's balance, top-ups, plan grants, holds and audit trail.

use std::path::PathBuf;

use anyhow::{Context, Result};
use switchyard_session::credits::Plans;
use switchyard_session::credits::{HoldId, Ledger, LedgerError, Location, Resolution, to_csv};

use super::Exit;
use super::args::{CreditsArgs, CreditsCommand};

/// Where the ledger lives unless `--ledger` says.
/// The default's folder is created, as `credits` may create the ledger there.
pub fn ledger_location(explicit: Option<Location>) -> Result<Location> {
    if let Some(location) = explicit {
        return Ok(location);
    }
    let location = switchyard_session::wallet::ledger_location(None)?;
    if let Location::File(path) = &location
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(location)
}

/// Opens the ledger an operations command names (`--ledger`, else the default): `Err` is
/// the exit when the file is not a ledger (said on stderr).
pub async fn open_for_ops(explicit: Option<Location>) -> Result<Result<Ledger, Exit>> {
    let location = ledger_location(explicit)?;
    match switchyard_session::credits::open_admin(&location).await {
        Ok((ledger, _)) => Ok(Ok(ledger)),
        Err(e @ LedgerError::NotALedger { .. }) => {
            eprintln!("error: {e}");
            Ok(Err(Exit::Invalid))
        }
        Err(e) => Err(e).with_context(|| format!("cannot open the ledger {location}")),
    }
}

/// Refuses a wallet the ledger does not hold, naming the nearest one it does.
async fn known_wallet(ledger: &Ledger, account: &str) -> Result<()> {
    let wallets = ledger.wallets("").await?;
    if wallets.iter().any(|w| w == account) {
        return Ok(());
    }
    let hint = match switchyard_engine::nearest(account, wallets.iter().map(String::as_str)) {
        Some(w) => format!("; did you mean {w:?}?"),
        None if wallets.is_empty() => "; the ledger holds none yet (`credits grant` or `topup` creates one)".into(),
        None => format!("; wallets: {}", wallets.iter().take(10).cloned().collect::<Vec<_>>().join(", ")),
    };
    Err(Refused(format!("no wallet {account:?} in this ledger{hint}")).into())
}

/// A request refused for what it asked (exit 2), not for a failure of the store.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

fn plans(file: Option<&PathBuf>) -> Result<Plans> {
    match file {
        None => Ok(Plans::builtin()),
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            Plans::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
        }
    }
}

pub fn run(args: CreditsArgs) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let location = ledger_location(args.ledger.clone())?;
        if args.command.reads_one_wallet()
            && let Location::File(path) = &location
            && !path.exists()
        {
            eprintln!(
                "error: no ledger at {} yet, so no wallet {:?}; `switchyard credits grant` or `topup` creates it",
                path.display(),
                args.account
            );
            return Ok(Exit::Invalid);
        }
        let (ledger, recovered) = match switchyard_session::credits::open_admin(&location).await {
            Ok(opened) => opened,
            Err(e @ LedgerError::NotALedger { .. }) => {
                eprintln!("error: {e}");
                return Ok(Exit::Invalid);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open the ledger {location}")),
        };
        if recovered.voided > 0 || recovered.unknown > 0 {
            eprintln!(
                "ledger recovery: {} expired hold(s) voided, {} unknown outcome(s) await reconciliation",
                recovered.voided, recovered.unknown
            );
        }
        match command(&ledger, &args).await {
            Ok(()) => Ok(Exit::Ok),
            Err(e) => match (e.downcast_ref::<LedgerError>(), e.downcast_ref::<Refused>()) {
                (Some(LedgerError::Database(_) | LedgerError::Migrate(_)), _) | (None, None) => Err(e),
                _ => {
                    eprintln!("error: {e}");
                    Ok(Exit::Invalid)
                }
            },
        }
    })
}

async fn command(ledger: &Ledger, args: &CreditsArgs) -> Result<()> {
    let account = args.account.as_str();
    if args.command.reads_one_wallet() {
        known_wallet(ledger, account).await?;
    }
    match &args.command {
        CreditsCommand::Balance { json } => {
            let b = ledger.balance(account).await?;
            let plan = ledger.plan_of(account).await?;
            if *json {
                let doc = serde_json::json!({ "account": account, "balance": b, "plan": plan.as_ref().map(|p| &p.0), "tier": plan.as_ref().map(|p| p.1) });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                let plan = plan.map_or_else(|| "no plan".to_string(), |(p, t)| format!("plan {p}, tier {t}"));
                println!(
                    "{account}: {} available ({} in unexpired lots, {} held; {plan})",
                    b.available, b.posted, b.held
                );
            }
        }
        CreditsCommand::Topup { pack, payment_id } => {
            let plans = plans(args.plans.as_ref())?;
            let Some(p) = plans.packs.get(pack) else {
                let known = plans.packs.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(Refused(format!("no pack {pack:?}; packs: {known}")).into());
            };
            let receipt = ledger.topup(account, pack, p, payment_id).await?;
            if receipt.replayed {
                println!("{account}: pack {pack} for payment {payment_id} was already granted (lot {})", receipt.lot);
            } else {
                println!("{account}: +{} from pack {pack} (lot {})", receipt.amount, receipt.lot);
            }
        }
        CreditsCommand::Grant { plan, seats, credits } => {
            let plans = plans(args.plans.as_ref())?;
            let Some(p) = plans.plans.get(plan) else {
                let known = plans.plans.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(Refused(format!("no plan {plan:?}; plans: {known}")).into());
            };
            let receipt = ledger.grant_plan(account, plan, p, *seats, *credits).await?;
            let month = chrono::Utc::now().format("%Y-%m");
            if receipt.replayed {
                println!(
                    "{account}: plan {plan} already granted for {month} ({}, lot {})",
                    receipt.amount, receipt.lot
                );
            } else {
                println!("{account}: {} from plan {plan} for {month} (lot {})", receipt.amount, receipt.lot);
            }
        }
        CreditsCommand::History { csv, json, all } => {
            let records = ledger.history((!all).then_some(account)).await?;
            if *csv {
                print!("{}", to_csv(&records));
            } else if *json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                print!("{}", super::history::table(&records, &chrono::Local));
            }
        }
        CreditsCommand::Member { name, cap } => {
            let used = match cap {
                Some(cap) => ledger.set_member_cap(account, name, switchyard_session::credits::Credits(*cap)).await?,
                None => ledger.member(account, name).await?,
            };
            println!(
                "{account}/{name}: cap {} cr a month; {} spent in {}, {} held",
                used.cap, used.spent, used.period, used.held
            );
        }
        CreditsCommand::Resolve { hold, post, cost, void, evidence } => {
            let resolution = match (post, void) {
                (Some(charge), false) => {
                    let charge = switchyard_session::credits::Credits(*charge);
                    Resolution::Post { charge, cost: cost.map_or(charge, switchyard_session::credits::Credits) }
                }
                _ => Resolution::Void,
            };
            let key = format!("resolve:{hold}");
            let done = ledger.resolve(&HoldId(hold.clone()), resolution, evidence, &key).await?;
            println!("{hold}: charged {}, released {}; evidence kept on the hold", done.charged, done.released);
        }
        CreditsCommand::Holds { all, json } => {
            let holds = ledger.holds(Some(account), !all).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&holds)?);
            } else if holds.is_empty() {
                println!("{account}: no open holds");
            } else {
                for h in holds {
                    let notes: String = [("review", &h.review), ("evidence", &h.evidence)]
                        .iter()
                        .filter_map(|(k, v)| v.as_ref().map(|v| format!(" {k}: {v}")))
                        .collect();
                    let who = [h.run_id, h.node_id, h.provider, h.vendor_id].map(|v| v.unwrap_or_else(|| "-".into()));
                    println!(
                        "{} {} {} {} cr (posted {}) run {} node {} provider {} vendor {}{notes}",
                        h.id, h.kind, h.state, h.amount, h.posted, who[0], who[1], who[2], who[3]
                    );
                }
            }
        }
    }
    Ok(())
}
