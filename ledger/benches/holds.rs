//! Durable holds per second on both stores: SQLite (WAL, `synchronous=FULL`, a real file) and
//! PostgreSQL (`$SWITCHYARD_TEST_DATABASE_URL`, else 127.0.0.1:5432; a database of its own;
//! skipped when there is none). For each: single holds one at a time (each its own
//! transaction and durable commit) with p50 and p99 latency, batched holds (1,000 per
//! transaction), a billed call's whole path, and 8 concurrent clients from a load generator
//! in its own process (`ledger-load`). Goals on SQLite: 100,000 a second batched, p99 of a
//! single hold under 1 ms.

use std::time::{Duration, Instant};

use switchyard_ledger::{Audit, Credits, Grant, HoldRequest, Ledger, Source};
use switchyard_testkit::TestDatabase;

// The allocator the switchyard binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SINGLE: usize = 2_000;
const BATCHES: usize = 50;
const BATCH: usize = 1_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("bench.db");
        println!("== SQLite ({})", file.display());
        let ledger = Ledger::open(&file).await.expect("open");
        measure(&ledger).await;
        drop(ledger);
        concurrent_clients(&file.display().to_string());
        match postgres().await {
            Some(db) => {
                println!("== PostgreSQL");
                let ledger = Ledger::connect_postgres(&db.url, 16).await.expect("connect");
                measure(&ledger).await;
                drop(ledger);
                concurrent_clients(&db.url);
                db.drop_now().await;
            }
            None => println!("== PostgreSQL: skipped, no server (set {})", switchyard_testkit::DATABASE_URL_VAR),
        }
    });
}

/// A database of its own on the test server, if one answers.
async fn postgres() -> Option<TestDatabase> {
    let url = std::env::var(switchyard_testkit::DATABASE_URL_VAR)
        .unwrap_or_else(|_| switchyard_testkit::LOCAL_URL.to_string());
    let reachable = tokio::time::timeout(Duration::from_secs(3), sqlx::PgPool::connect(&url)).await;
    matches!(reachable, Ok(Ok(_))).then_some(())?;
    Some(TestDatabase::create().await)
}

fn funding() -> Grant {
    Grant {
        wallet: "farm".into(),
        amount: Credits(switchyard_ledger::AMOUNT_MAX),
        source: Source::Pack,
        expires_at_ms: None,
        reason: "bench".into(),
        rollover_cap: 0,
    }
}

fn request(i: usize) -> HoldRequest {
    HoldRequest {
        wallet: "farm".into(),
        amount: Credits(5),
        timeout_ms: 600_000,
        audit: Audit {
            run_id: Some("bench".into()),
            node_id: Some(format!("n{i}")),
            provider: Some("bfl".into()),
            vendor_id: None,
        },
        member: None,
        parent: None,
    }
}

/// Single holds, batched holds and billed calls on one ledger, in this process.
async fn measure(ledger: &Ledger) {
    ledger.grant(&funding(), "bench-grant").await.expect("grant");
    for n in 0..8 {
        let grant = Grant { wallet: format!("farm-{n}"), ..funding() };
        ledger.grant(&grant, &format!("bench-grant-{n}")).await.expect("grant");
    }
    let mut latencies = Vec::with_capacity(SINGLE);
    let started = Instant::now();
    for i in 0..SINGLE {
        let t = Instant::now();
        ledger.hold(&request(i), &format!("s{i}")).await.expect("hold");
        latencies.push(t.elapsed());
    }
    report("single durable holds", latencies, started.elapsed());
    let started = Instant::now();
    for b in 0..BATCHES {
        let reqs: Vec<_> = (0..BATCH).map(|i| (request(i), format!("b{b}-{i}"))).collect();
        let out = ledger.hold_many(&reqs).await.expect("batch");
        assert!(out.iter().all(Result::is_ok));
    }
    let batched = (BATCHES * BATCH) as f64 / started.elapsed().as_secs_f64();
    println!("batched durable holds ({BATCH} per transaction): {batched:.0}/s");
    carved_calls(ledger, &request).await;
}

/// 8 concurrent clients, 500 single holds each, from `ledger-load` in its own process: all
/// on one wallet (they queue on its lots), then each on a wallet of its own.
fn concurrent_clients(ledger: &str) {
    for (what, wallets) in [("one wallet", "1"), ("a wallet each", "8")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ledger-load"))
            .args([ledger, "--wallet", "farm", "--wallets", wallets, "--clients", "8", "--holds", "500"])
            .args(["--prefix", &format!("clients-{wallets}")])
            .output()
            .expect("ledger-load runs");
        let report = String::from_utf8_lossy(&out.stdout);
        println!("8 concurrent clients, {what} (ledger-load, its own process): {}", report.trim());
        if !out.status.success() {
            println!("  ledger-load failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
    }
}

/// A billed call's whole ledger path since issue 13: a hold carved from the run's
/// reservation, its intent written before the create, then the post.
async fn carved_calls(ledger: &Ledger, request: &impl Fn(usize) -> HoldRequest) {
    let run =
        ledger.reserve_run("farm", None, Credits(5 * SINGLE as i64), 3_600_000, "bench-run").await.expect("reserve");
    let mut latencies = Vec::with_capacity(SINGLE);
    let started = Instant::now();
    for i in 0..SINGLE {
        let t = Instant::now();
        let req = HoldRequest { parent: Some(run.0.clone()), ..request(i) };
        let hold = ledger.hold(&req, &format!("c{i}")).await.expect("carve");
        ledger.record_intent(&hold, None).await.expect("intent");
        ledger.post(&hold, Credits(3), Credits(2), Some("task"), &format!("c{i}:post")).await.expect("post");
        latencies.push(t.elapsed());
    }
    report(
        "billed call (carve from the run, write intent, post; 3 durable transactions)",
        latencies,
        started.elapsed(),
    );
    ledger.release_run(&run, "bench-run").await.expect("release");
}

/// Prints the rate and the p50 and p99 latency of `latencies`, taken in `took` in all.
fn report(what: &str, mut latencies: Vec<Duration>, took: Duration) {
    let rate = latencies.len() as f64 / took.as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("{what}: {rate:.0}/s; latency p50 {:.3} ms, p99 {:.3} ms", ms(pct(0.50)), ms(pct(0.99)));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
