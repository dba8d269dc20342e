//! Run submissions per second through `switchyard serve` (validation, placement, the quote
//! and a durable insert included), on SQLite and, when a server answers, on PostgreSQL. The
//! server runs in this process; the load generator (`serve-load`) in its own.
//! - the most submissions a second: 32 closed-loop clients, the tenant's queue paused;
//! - p99 at half that rate (open loop);
//! - the same once 100,000 more runs wait, against a nearly empty queue;
//! - dispatch: 100 high-priority runs of another tenant, from submission to all done, with an
//!   empty queue and with those 100,000 runs queued beneath them;
//! - the server's memory and the database's bytes per waiting run.

use std::path::Path;

use serde_json::Value;
use switchyard_server::Role;

#[path = "support/memory.rs"]
mod memory;
#[path = "support/serve.rs"]
mod serve;
use memory::rss_mib;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(url: &str, key: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_serve-load"))
        .args([url, key])
        .args(args)
        .output()
        .expect("serve-load runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("serve-load: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

/// Seconds from submitting 100 runs at priority 100 to the last one's end (and, printed,
/// how much of that the submissions took).
async fn dispatch(url: &str, key: &str) -> f64 {
    let client = switchyard_server::client::Client::new(url, key);
    let workflow = serde_json::json!({ "format": "switchyard.workflow", "version": 1,
        "nodes": { "n": { "type": "image.noise", "params": { "width": 32, "height": 32 } } } });
    let started = std::time::Instant::now();
    let mut ids = Vec::new();
    for _ in 0..100 {
        let req = switchyard_server::protocol::SubmitRequest {
            workflow: workflow.clone(),
            priority: 100,
            ..Default::default()
        };
        ids.push(client.submit(&req, None).await.expect("submitted").id);
    }
    println!("  (the 100 submissions took {:.2} s)", started.elapsed().as_secs_f64());
    for id in ids {
        while !client.run(&id).await.expect("a run").ended() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    started.elapsed().as_secs_f64()
}

async fn bench(name: &str, data: &Path, database: Option<String>) {
    let key = switchyard_server::create_key(data, database.as_deref(), "bench", Role::Admin).await.expect("a key");
    let hot = switchyard_server::create_key(data, database.as_deref(), "hot", Role::Admin).await.expect("a key");
    let serving = serve::start(data, database.clone(), 2).await;
    let url = serving.url.clone();
    let shallow = dispatch(&url, &hot).await;
    let rss_before = rss_mib();
    let (url2, key2) = (url.clone(), key.clone());
    let figures = tokio::task::spawn_blocking(move || {
        let warm = load(&url2, &key2, &["--requests", "500", "--clients", "8", "--pause"]);
        let max = load(&url2, &key2, &["--requests", "4000", "--clients", "32"]);
        let rate = (max["per_s"].as_f64().unwrap_or(100.0) / 2.0).max(1.0) as u64;
        let half = load(
            &url2,
            &key2,
            &["--requests", &(rate * 4).to_string(), "--clients", "32", "--rate", &rate.to_string()],
        );
        let filler = load(&url2, &key2, &["--requests", "100000", "--clients", "32"]);
        let deep = load(&url2, &key2, &["--requests", "4000", "--clients", "32"]);
        (warm, max, rate, half, filler, deep)
    })
    .await
    .expect("the load ran");
    let (_, max, rate, half, _, deep) = figures;
    let rss_after = rss_mib();
    let waiting = 500 + 4000 + rate * 4 + 100_000 + 4000;
    // The bench tenant's runs wait as paused; resumed, they are queued beneath the hot runs.
    let http = reqwest::Client::new();
    let resuming = std::time::Instant::now();
    let resumed = http.post(format!("{url}/v1/queue/resume")).bearer_auth(&key).send().await.expect("resume");
    assert!(resumed.status().is_success());
    let resume_s = resuming.elapsed().as_secs_f64();
    // The resume rewrites every waiting row at once; the database's clean-up of that burst
    // (PostgreSQL's autovacuum) is not dispatch, so the steady state is measured after it.
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let deep_dispatch = dispatch(&url, &hot).await;
    println!("== {name}");
    println!("most submissions (32 clients, ~500 queued): {max}");
    println!("at half that rate ({rate}/s, open loop): {half}");
    println!("with ~{waiting} waiting: {deep}");
    println!(
        "100 high-priority runs submitted to done: {shallow:.2} s on an empty queue, {deep_dispatch:.2} s above {waiting} queued"
    );
    println!("resuming the {waiting} paused runs took {resume_s:.2} s");
    println!(
        "server memory: {rss_before:.1} MiB before, {rss_after:.1} MiB with {waiting} waiting ({:.2} KiB a run)",
        (rss_after - rss_before) * 1024.0 / waiting as f64
    );
    if database.is_none() {
        let bytes = std::fs::metadata(data.join("server.db")).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(data.join("server.db-wal")).map(|m| m.len()).unwrap_or(0);
        println!("database bytes per waiting run: {:.0}", bytes as f64 / waiting as f64);
    }
    serving.stop().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        bench("SQLite", dir.path(), None).await;
        let url = std::env::var(switchyard_testkit::DATABASE_URL_VAR)
            .unwrap_or_else(|_| switchyard_testkit::LOCAL_URL.to_string());
        let reachable = tokio::time::timeout(std::time::Duration::from_secs(3), sqlx::PgPool::connect(&url)).await;
        if matches!(reachable, Ok(Ok(_))) {
            let db = switchyard_testkit::TestDatabase::create().await;
            let dir = tempfile::tempdir().expect("temp dir");
            bench("PostgreSQL", dir.path(), Some(db.url.clone())).await;
            db.drop_now().await;
        } else {
            println!("== PostgreSQL: skipped, no server");
        }
    });
}
