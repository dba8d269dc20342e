//! Billing operations' figures, printed: payment webhooks processed per second (signature
//! check, event read, and the ledger transaction that applies it once), and reconciling
//! ROWS ledger charges against an export of as many rows: time and peak memory. The
//! reconciliation runs in a child process of its own, so its peak RSS is its own.
//!
//! `cargo bench -p switchyard-ops --bench operations [-- ROWS]` (default 1,000,000).
//! PostgreSQL figures need $SWITCHYARD_TEST_DATABASE_URL or a server on 127.0.0.1:5432.

use std::io::Write;
use std::time::Instant;

use sqlx::Connection;
use switchyard_ledger::plans::Plans;
use switchyard_ledger::{Dunning, Ledger};
use switchyard_ops::reconcile::{self, Format, Options};
use switchyard_ops::stripe::{TOLERANCE_S, read_event, sign, verify};

const SECRET: &str = "whsec_bench";
/// 2026-11-01T00:00:00Z.
const NOV_1_MS: i64 = 1_793_491_200_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--reconcile-child") {
        return reconcile_child(&args[at + 1], &args[at + 2]);
    }
    let rows: usize = args.iter().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Ledger::open(&dir.path().join("hooks.db")).await.unwrap();
        webhooks("sqlite", &sqlite, 2_000).await;
        if let Some(db) = postgres().await {
            webhooks("postgres", &db.0, 2_000).await;
            db.1.drop_now().await;
        }
        let ledger_path = dir.path().join("ledger.db");
        let export = dir.path().join("export.csv");
        let started = Instant::now();
        fill(&ledger_path, &export, rows).await;
        println!("reconcile setup: {rows} charges and export rows written in {:.1} s", started.elapsed().as_secs_f64());
        let me = std::env::current_exe().unwrap();
        let out = std::process::Command::new(me)
            .args(["--reconcile-child", ledger_path.to_str().unwrap(), export.to_str().unwrap()])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    });
}

/// A PostgreSQL database of its own, if a server is there.
async fn postgres() -> Option<(Ledger, switchyard_testkit::TestDatabase)> {
    use switchyard_testkit::{DATABASE_URL_VAR, LOCAL_URL, TestDatabase};
    let url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| LOCAL_URL.to_string());
    sqlx::PgConnection::connect(&url).await.ok()?.close().await.ok()?;
    let db = TestDatabase::create().await;
    let ledger = Ledger::connect_postgres(&db.url, 8).await.ok()?;
    Some((ledger, db))
}

/// Applies `n` top-up events through the whole webhook path, 8 deliveries at a time.
async fn webhooks(store: &str, ledger: &Ledger, n: usize) {
    let now_s = NOV_1_MS / 1000;
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"evt_{i}","object":"event","type":"checkout.session.completed","data":{{"object":{{"id":"cs_{i}","object":"checkout.session","client_reference_id":"bench/w{}","customer":"cus_{}","metadata":{{"pack":"500"}},"mode":"payment","payment_intent":"pi_{i}","payment_status":"paid","amount_total":4500,"currency":"usd"}}}}}}"#,
                i % 64,
                i % 64
            )
            .into_bytes()
        })
        .collect();
    let signed: Vec<(String, Vec<u8>)> = bodies.into_iter().map(|b| (sign(SECRET, now_s, &b), b)).collect();
    let secrets = vec![SECRET.to_string()];
    let started = Instant::now();
    let chunks: Vec<Vec<(String, Vec<u8>)>> = signed.chunks(n.div_ceil(8)).map(<[_]>::to_vec).collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let ledger = ledger.clone();
            let secrets = secrets.clone();
            tokio::spawn(async move {
                for (header, body) in chunk {
                    verify(Some(&header), &body, &secrets, now_s, TOLERANCE_S).unwrap();
                    let event = read_event(&body).unwrap();
                    ledger.apply_payment(&event, &Plans::builtin(), Dunning::default()).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("webhooks ({store}): {n} top-up events in {seconds:.2} s: {:.0} events/s", n as f64 / seconds);
}

/// A ledger with `rows` posted Replicate charges (written straight into its tables, as
/// posting them one by one would take the bench's whole time) and an export of as many
/// rows in another order, 0.1% of them at another amount and 0.1% only on each side.
async fn fill(ledger_path: &std::path::Path, export: &std::path::Path, rows: usize) {
    drop(Ledger::open(ledger_path).await.unwrap());
    let url = format!("sqlite://{}", ledger_path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    for (id, kind) in [("lot:bench", "lot"), ("payable:replicate", "payable")] {
        sqlx::query("INSERT INTO accounts (id, kind, allow_negative, created_at_ms) VALUES ($1, $2, 1, 0)")
            .bind(id)
            .bind(kind)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for i in 0..rows {
        let id = format!("pred-{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        sqlx::query(
            "INSERT INTO transfers (debit, credit, amount, reason, hold_id, provider, vendor_id, created_at_ms) \
             VALUES ('lot:bench', 'payable:replicate', $1, 'charge', $2, 'replicate', $3, $4)",
        )
        .bind(if i % 1000 == 1 { 9 } else { 2 })
        .bind(format!("hold:{i}"))
        .bind(if i % 1000 == 2 { format!("ledger-only-{i}") } else { id })
        .bind(NOV_1_MS + (i as i64 % 86_400_000))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(export).unwrap());
    writeln!(out, "id,amount_usd,status").unwrap();
    for i in (0..rows).rev() {
        let id = format!("pred-{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let id = if i % 1000 == 3 { format!("vendor-only-{i}") } else { id };
        writeln!(out, "{id},0.0100,succeeded").unwrap();
    }
}

fn reconcile_child(ledger_path: &str, export: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ledger = Ledger::open(std::path::Path::new(ledger_path)).await.unwrap();
        let before = peak_rss_kb();
        let started = Instant::now();
        let mut opts = Options::new("replicate", NOV_1_MS, NOV_1_MS + 30 * 86_400_000, 0.005, 0.25);
        opts.format = Format::Csv;
        let file = std::fs::File::open(export).unwrap();
        let report = reconcile::reconcile(&ledger, vec![("export".into(), Box::new(file))], &opts).await.unwrap();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "reconcile: {} ledger rows against {} export rows in {seconds:.2} s ({:.0} rows/s); matched {}, ledger only {}, export only {}, differing {}; peak RSS {} MB (before reconciling {} MB)",
            report.ledger_rows,
            report.vendor_rows,
            (report.ledger_rows + report.vendor_rows) as f64 / seconds,
            report.matched,
            report.ledger_only,
            report.vendor_only,
            report.differing,
            peak_rss_kb() / 1024,
            before / 1024,
        );
    });
}

/// The process's peak resident set (VmHWM), in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
