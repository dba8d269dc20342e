//! Run submissions per second through `switchyard serve` (validation, placement, the quote
//! and a durable insert included), on SQLite and, when a server answers, on PostgreSQL. The
//! server runs in this process; the load generator (`serve-load`) in its own.
//! - the most submissions a second: 32 closed-loop clients, the tenant's queue paused;
//! - p99 at half that rate (open loop);
//! - the same once 20,000 more runs are queued, against a nearly empty queue;
//! - the database's bytes per queued run.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;
use switchyard_server::{Role, Server, ServerOptions};
use tokio_util::sync::CancellationToken;

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

async fn bench(name: &str, data: &Path, database: Option<String>) {
    let key = switchyard_server::create_key(data, database.as_deref(), "bench", Role::Admin).await.expect("a key");
    let opts = ServerOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data: data.to_path_buf(),
        database: database.clone(),
        workers: 2,
        grace_ms: 0,
        rate_per_s: 0,
        metrics_listen: None,
        settings: Default::default(),
    };
    let server = Server::bind(opts).await.expect("the server binds");
    let url = format!("http://{}", server.local_addr().expect("an address"));
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server.run(shutdown.clone()));
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
        let filler = load(&url2, &key2, &["--requests", "20000", "--clients", "32"]);
        let deep = load(&url2, &key2, &["--requests", "4000", "--clients", "32"]);
        (warm, max, rate, half, filler, deep)
    })
    .await
    .expect("the load ran");
    let (_, max, rate, half, _, deep) = figures;
    println!("== {name}");
    println!("most submissions (32 clients, ~500 queued): {max}");
    println!("at half that rate ({rate}/s, open loop): {half}");
    println!("with ~25,000 queued: {deep}");
    if database.is_none() {
        let bytes = std::fs::metadata(data.join("server.db")).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(data.join("server.db-wal")).map(|m| m.len()).unwrap_or(0);
        println!("database bytes per queued run: {:.0}", bytes as f64 / 29_000.0);
    }
    shutdown.cancel();
    let _ = serving.await;
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
