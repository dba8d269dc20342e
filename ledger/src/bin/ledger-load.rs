//! A load generator for the ledger, run as a process of its own: `clients` concurrent
//! clients each make `holds` holds of `amount` against one wallet (singly, or `batch` per
//! transaction), under keys `{prefix}-{client}-{n}`, and one JSON line reports what was
//! admitted and how fast. Tests start several at once against one PostgreSQL database.
//!
//! `ledger-load LEDGER --wallet W [--wallets 1] [--clients 8] [--holds 100] [--amount 1]
//! [--batch 0] [--prefix load] [--connections 16]`, where LEDGER is a file path or
//! `postgres://` URL. With `--wallets N` above 1, client `c` spends from wallet `W-{c mod N}`
//! (as tenants of a shared server would), instead of all from `W`.

use std::time::{Duration, Instant};

use switchyard_ledger::{Audit, Credits, HoldRequest, Ledger, LedgerError, Location};

// The allocator the switchyard binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    location: Location,
    wallet: String,
    wallets: usize,
    clients: usize,
    holds: usize,
    amount: i64,
    batch: usize,
    prefix: String,
    connections: u32,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let location = Location::parse(&args.next().ok_or("usage: ledger-load LEDGER --wallet W [options]")?);
    let mut o = Options {
        location,
        wallet: String::new(),
        wallets: 1,
        clients: 8,
        holds: 100,
        amount: 1,
        batch: 0,
        prefix: "load".into(),
        connections: 16,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag} takes a whole number, not {v:?}"));
        match flag.as_str() {
            "--wallet" => o.wallet = value,
            "--wallets" => o.wallets = number(&value)?.clamp(1, 10_000) as usize,
            "--clients" => o.clients = number(&value)?.clamp(1, 256) as usize,
            "--holds" => o.holds = number(&value)?.min(1_000_000) as usize,
            "--amount" => o.amount = number(&value)?.clamp(1, 1_000_000) as i64,
            "--batch" => o.batch = number(&value)?.min(10_000) as usize,
            "--prefix" => o.prefix = value,
            "--connections" => o.connections = number(&value)?.clamp(1, 256) as u32,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.wallet.is_empty() {
        return Err("--wallet is required".into());
    }
    Ok(o)
}

fn request(o: &Options, client: usize, n: usize) -> (HoldRequest, String) {
    let audit = Audit {
        run_id: Some(o.prefix.clone()),
        node_id: Some(format!("c{client}-n{n}")),
        provider: Some("bfl".into()),
        vendor_id: None,
    };
    let req = HoldRequest {
        wallet: o.wallet.clone(),
        amount: Credits(o.amount),
        timeout_ms: 3_600_000,
        audit,
        member: None,
        parent: None,
    };
    (req, format!("{}-{client}-{n}", o.prefix))
}

/// What one client saw: holds admitted and refused for funds, and each call's latency.
#[derive(Default)]
struct Tally {
    admitted: usize,
    refused: usize,
    latencies: Vec<Duration>,
}

async fn client(ledger: Ledger, o: &Options, id: usize) -> Result<Tally, LedgerError> {
    let mut tally = Tally::default();
    let mut count = |outcome: Result<_, LedgerError>| {
        match outcome {
            Ok(_) => tally.admitted += 1,
            Err(LedgerError::InsufficientFunds { .. }) => tally.refused += 1,
            Err(e) => return Err(e),
        }
        Ok(())
    };
    let mut latencies = Vec::new();
    if o.batch == 0 {
        for n in 0..o.holds {
            let (req, key) = request(o, id, n);
            let t = Instant::now();
            let outcome = ledger.hold(&req, &key).await;
            latencies.push(t.elapsed());
            count(outcome)?;
        }
    } else {
        let all: Vec<_> = (0..o.holds).map(|n| request(o, id, n)).collect();
        for chunk in all.chunks(o.batch) {
            let t = Instant::now();
            let outcomes = ledger.hold_many(chunk).await?;
            latencies.push(t.elapsed());
            for outcome in outcomes {
                count(outcome)?;
            }
        }
    }
    tally.latencies = latencies;
    Ok(tally)
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ledger-load: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let outcome: Result<String, LedgerError> = rt.block_on(async {
        let ledger = match &o.location {
            Location::Postgres(url) => Ledger::connect_postgres(url, o.connections).await?,
            file => Ledger::open_existing(file).await?,
        };
        let started = Instant::now();
        let tallies = futures::future::join_all((0..o.clients).map(|id| client(ledger.clone(), &o, id))).await;
        let took = started.elapsed().as_secs_f64();
        let mut all = Tally::default();
        for t in tallies {
            let t = t?;
            all.admitted += t.admitted;
            all.refused += t.refused;
            all.latencies.extend(t.latencies);
        }
        all.latencies.sort();
        let pct = |p: f64| {
            let n = all.latencies.len();
            all.latencies.get(((n as f64 * p) as usize).min(n.saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        let holds = all.admitted + all.refused;
        Ok(format!(
            "{{\"admitted\":{},\"refused\":{},\"seconds\":{took:.3},\"holds_per_s\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
            all.admitted,
            all.refused,
            holds as f64 / took.max(1e-9),
            pct(0.50),
            pct(0.99)
        ))
    });
    match outcome {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("ledger-load: {e}");
            std::process::exit(1);
        }
    }
}
