//! The team library at scale, through a server in this process (SQLite; and PostgreSQL when
//! one answers at `$SWITCHYARD_TEST_DATABASE_URL`):
//! - push (fast-forward, and merged from an older base), pull and diff of a 10,000-node
//!   workflow;
//! - listing a library of 10,000 workflows: one page, every page, a folder, a search.

use std::time::Instant;

use serde_json::{Value, json};
use switchyard_server::Role;
use switchyard_server::client::Client;
use switchyard_server::library::{CreateWorkflow, PushRequest};

#[path = "support/serve.rs"]
mod serve;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A chain of `n` nodes.
fn big(n: usize, seed: i64) -> Value {
    let mut nodes = serde_json::Map::new();
    for i in 0..n {
        let mut node = json!({ "type": "image.blur", "params": { "sigma": 1.0 + (i % 7) as f64 } });
        if i == 0 {
            node = json!({ "type": "image.noise", "params": { "width": 64, "height": 64, "seed": seed } });
        } else {
            node["inputs"] = json!({ "image": format!("n{}.image", i - 1) });
        }
        nodes.insert(format!("n{i}"), node);
    }
    json!({ "format": "switchyard.workflow", "version": 1, "name": "big", "nodes": nodes })
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The median of `runs` timings of `f`, in ms.
async fn median<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        f(i).await;
        times.push(ms(t));
    }
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

async fn bench(label: &str, database: Option<String>) {
    let data = tempfile::tempdir().expect("a temp dir");
    let key =
        switchyard_server::create_key(data.path(), database.as_deref(), "bench", Role::Admin).await.expect("a key");
    let serving = serve::start(data.path(), database, 2).await;
    let c = Client::new(&serving.url, &key);
    println!("{label}:");

    let base = big(10_000, 1);
    let bytes = base.to_string().len();
    let t = Instant::now();
    let made = c
        .library_create(&CreateWorkflow { path: "big".into(), workflow: base.clone(), message: String::new() })
        .await
        .expect("made");
    println!("  add a 10,000-node workflow ({:.1} MB): {:.0} ms", bytes as f64 / 1e6, ms(t));
    let id = made.summary.id.clone();
    let first = made.revision.hash.clone();
    let mut head = first.clone();
    let push_ms = median(5, |i| {
        let mut w = big(10_000, 1);
        w["nodes"][format!("n{}", 100 + i)]["params"]["sigma"] = json!(9.5);
        let req = PushRequest { base: head.clone(), workflow: w, message: String::new(), choices: Default::default() };
        let c = &c;
        let id = &id;
        async move {
            let _ = c.library_push(id, &req).await.expect("pushed");
        }
    })
    .await;
    head = c.library_workflow(&id, None).await.expect("head").revision.hash;
    println!("  push, fast-forward (one param changed): {push_ms:.0} ms median of 5");
    let merge_ms = median(5, |i| {
        let mut w = big(10_000, 1);
        w["nodes"][format!("n{}", 5000 + i)]["params"]["sigma"] = json!(3.5);
        let req = PushRequest { base: first.clone(), workflow: w, message: String::new(), choices: Default::default() };
        let c = &c;
        let id = &id;
        async move {
            let reply = c.library_push(id, &req).await.expect("merged");
            assert!(reply.merged);
        }
    })
    .await;
    println!("  push from an older base, merged three-way: {merge_ms:.0} ms median of 5");
    let pull_ms = median(5, |_| {
        let c = &c;
        let id = &id;
        async move {
            let _ = c.library_workflow(id, None).await.expect("pulled");
        }
    })
    .await;
    println!("  pull the head: {pull_ms:.0} ms median of 5");
    let diff_ms = median(5, |_| {
        let (c, id, first) = (&c, &id, &first);
        async move {
            let d = c.library_diff(id, first, None).await.expect("a diff");
            assert!(!d.diff.is_empty());
        }
    })
    .await;
    println!("  diff the first revision against the head: {diff_ms:.0} ms median of 5");
    let _ = head;

    let t = Instant::now();
    let small = json!({ "format": "switchyard.workflow", "version": 1, "nodes": { "n": { "type": "image.noise" } } });
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let c = Client::new(&serving.url, &key);
        let small = small.clone();
        tasks.spawn(async move {
            for i in (worker..10_000).step_by(8) {
                let path = format!("team{}/shot{i:05}", i % 20);
                let req = CreateWorkflow { path, workflow: small.clone(), message: String::new() };
                c.library_create(&req).await.expect("made");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    println!("  add 10,000 small workflows (8 clients): {:.1} s", t.elapsed().as_secs_f64());
    let page_ms = median(9, |_| {
        let c = &c;
        async move {
            assert_eq!(c.library(None, None, 200).await.expect("a page").workflows.len(), 200);
        }
    })
    .await;
    println!("  list one page of 200: {page_ms:.1} ms median of 9");
    let all_ms = median(5, |_| {
        let c = &c;
        async move {
            assert_eq!(c.library_all(None).await.expect("all").len(), 10_001);
        }
    })
    .await;
    println!("  list all 10,001 (pages of 1,000): {all_ms:.0} ms median of 5");
    let folder_ms = median(9, |_| {
        let c = &c;
        async move {
            assert_eq!(c.library_all(Some("team7")).await.expect("a folder").len(), 500);
        }
    })
    .await;
    println!("  list one folder of 500: {folder_ms:.1} ms median of 9");
    serving.stop().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        bench("SQLite", None).await;
        let url = std::env::var(switchyard_testkit::DATABASE_URL_VAR)
            .unwrap_or_else(|_| switchyard_testkit::LOCAL_URL.to_string());
        let reachable = tokio::time::timeout(std::time::Duration::from_secs(3), sqlx::PgPool::connect(&url)).await;
        if matches!(reachable, Ok(Ok(_))) {
            let db = switchyard_testkit::TestDatabase::create().await;
            bench("PostgreSQL", Some(db.url.clone())).await;
            db.drop_now().await;
        } else {
            println!("PostgreSQL: skipped, no server");
        }
    });
}
