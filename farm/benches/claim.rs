//! The farm's queue under load, on the PostgreSQL the tests use (a database of its own):
//! - claim latency (one task at a time) with 1,000,000 tasks waiting, 1,000,000 finished
//!   ones in the table and 1,000 registered workers, p50 and p99, with the claim's EXPLAIN
//!   plan;
//! - throughput: 8 worker slots claiming, completing and claiming again trivial tasks, as 8
//!   workers claiming one at a time and as one 8-slot worker claiming its free slots at once
//!   (what `switchyard worker` does), and the latter again for a billed run (each task's
//!   reservation taken at claim and closed at completion, all on one wallet).
//!
//! `cargo bench -p switchyard-farm --bench claim`

use std::time::Instant;

use switchyard_farm::{Completion, Farm, FarmRun, Outcome, RunBilling, Worker};
use switchyard_testkit::TestDatabase;

const WAITING: i64 = 1_000_000;
const SLOTS: usize = 8;
const THROUGHPUT_TASKS: i64 = 20_000;

async fn fill(pool: &sqlx::PgPool, run: &str, n: i64, state: &str) {
    let sql = format!(
        "INSERT INTO farm_tasks (run_id, seq, item_from, item_to, state, max_attempts, created_at_ms, priority) \
         SELECT '{run}', g, g, g + 1, '{state}', 3, 0, (g % 5) FROM generate_series(0, {n} - 1) g"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.expect("filled");
    sqlx::raw_sql("ANALYZE farm_tasks").execute(pool).await.expect("analyzed");
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn register(farm: &Farm, id: String) -> Worker {
    let w = Worker { id, host: "bench".into(), slots: 8, memory_gb: 64.0, ..Worker::default() };
    farm.register(&w).await.expect("registered");
    w
}

async fn latency(farm: &Farm, pool: &sqlx::PgPool) {
    fill(pool, "done", WAITING, "done").await;
    fill(pool, "deep", WAITING, "queued").await;
    let mut workers = Vec::with_capacity(1000);
    for i in 0..1000 {
        workers.push(register(farm, format!("w{i}")).await);
    }
    let mut ms = Vec::with_capacity(2_000);
    for i in 0..2_000 {
        let t = Instant::now();
        let lease = farm.claim(&workers[i % 1000], 1, 60_000).await.expect("claimed");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(lease.len(), 1);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "claim with {WAITING} waiting and {WAITING} finished: p50 {:.2} ms, p99 {:.2} ms ({} claims)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.len()
    );
    let plan = farm.explain_claim(&workers[0], 1).await.expect("explained");
    println!("claim plan:");
    for line in plan {
        println!("  {line}");
    }
}

async fn throughput(farm: &Farm, pool: &sqlx::PgPool) {
    sqlx::raw_sql("DELETE FROM farm_tasks").execute(pool).await.expect("emptied");
    fill(pool, "fast", THROUGHPUT_TASKS, "queued").await;
    let started = Instant::now();
    let mut slots = Vec::new();
    for s in 0..SLOTS {
        let farm = farm.clone();
        let me = register(&farm, format!("slot{s}")).await;
        slots.push(tokio::spawn(async move {
            let mut done = 0u64;
            loop {
                let Some(lease) = farm.claim(&me, 1, 60_000).await.expect("claimed").pop() else {
                    return done;
                };
                farm.complete(&lease, &Outcome::Done).await.expect("completed");
                done += 1;
            }
        }));
    }
    let mut done = 0;
    for s in slots {
        done += s.await.expect("a slot");
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{SLOTS} slots, trivial tasks: {done} claimed and completed in {secs:.2} s = {:.0}/s", done as f64 / secs);
}

/// The same over a billed run: each claim also reserves each task's most on one wallet, and
/// each completion closes that reservation (the wallet's rows are the shared ones).
async fn billed(farm: &Farm, pool: &sqlx::PgPool) {
    for (run, together) in [("billed", false), ("billed-together", true)] {
        billed_run(farm, pool, run, together).await;
    }
}

/// Funds `studio` and runs [`batched`] over billed run `run`.
async fn billed_run(farm: &Farm, pool: &sqlx::PgPool, run: &str, together: bool) {
    let grant = switchyard_ledger::Grant {
        wallet: "studio".into(),
        amount: switchyard_ledger::Credits(1_000_000_000),
        source: switchyard_ledger::Source::Pack,
        expires_at_ms: None,
        reason: "pack:bench".into(),
        rollover_cap: 0,
    };
    farm.ledger().grant(&grant, &format!("bench-grant-{run}")).await.expect("granted");
    let billing = RunBilling { account: "studio".into(), item_most: 4, ..RunBilling::default() };
    let stored = FarmRun { id: run.into(), billing: Some(billing), ..FarmRun::default() };
    farm.submit(&stored, &[]).await.expect("run stored");
    batched(farm, pool, run, together).await;
}

/// One worker with `SLOTS` slots: claims up to `SLOTS` tasks of run `run` in one statement,
/// reports them (concurrently, one transaction each; or, with `together`, in one
/// transaction, as `switchyard worker`'s reporter does with the tasks that end together),
/// and claims again.
async fn batched(farm: &Farm, pool: &sqlx::PgPool, run: &str, together: bool) {
    sqlx::raw_sql("DELETE FROM farm_tasks").execute(pool).await.expect("emptied");
    fill(pool, run, THROUGHPUT_TASKS, "queued").await;
    let me = register(farm, "batcher".into()).await;
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        let leases = farm.claim(&me, SLOTS as u32, 60_000).await.expect("claimed");
        if leases.is_empty() {
            break;
        }
        if together {
            let ended: Vec<Completion> = leases
                .into_iter()
                .map(|lease| Completion { lease, outcome: Outcome::Done, outputs: Vec::new() })
                .collect();
            for r in farm.complete_many(&ended).await.expect("completed") {
                r.expect("held");
                done += 1;
            }
            continue;
        }
        let reports = leases.iter().map(|l| farm.complete(l, &Outcome::Done));
        for r in futures::future::join_all(reports).await {
            r.expect("completed");
            done += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let how = if together { "reported together" } else { "reported one by one" };
    println!(
        "one {SLOTS}-slot worker, trivial {run} tasks, {how}: {done} in {secs:.2} s = {:.0}/s",
        done as f64 / secs
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 16).await.expect("connected");
        let pool = db.pool(2).await;
        latency(&farm, &pool).await;
        throughput(&farm, &pool).await;
        batched(&farm, &pool, "batched", false).await;
        batched(&farm, &pool, "batched", true).await;
        billed(&farm, &pool).await;
        pool.close().await;
        db.drop_now().await;
    });
}
