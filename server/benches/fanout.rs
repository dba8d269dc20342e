//! WebSocket fan-out: 1,000 clients (`events-load`, in its own process) follow one busy run
//! (a chain of 200 small image nodes, about 1,000 events), through the server in this
//! process. Reports events delivered per client, the delay from emission to arrival, and the
//! server's resident memory before and with the clients connected.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;
use switchyard_server::Role;
use switchyard_server::protocol::SubmitRequest;

#[path = "support/memory.rs"]
mod memory;
#[path = "support/serve.rs"]
mod serve;
use memory::rss_mib;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn busy_workflow() -> serde_json::Value {
    let mut nodes = serde_json::Map::new();
    nodes.insert("n0".into(), json!({ "type": "image.noise", "params": { "width": 64, "height": 64 } }));
    for i in 1..200 {
        nodes.insert(format!("n{i}"), json!({ "type": "image.blur", "params": { "sigma": 0.5 }, "inputs": { "image": format!("n{}.image", i - 1) } }));
    }
    json!({ "format": "switchyard.workflow", "version": 1, "name": "busy", "nodes": nodes })
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = switchyard_server::create_key(dir.path(), None, "bench", Role::Admin).await.expect("a key");
        let serving = serve::start(dir.path(), None, 1).await;
        let url = serving.url.clone();
        let client = switchyard_server::client::Client::new(&url, &key);
        let http = reqwest::Client::new();
        let pause = http.post(format!("{url}/v1/queue/pause")).bearer_auth(&key).send().await.expect("pause");
        assert!(pause.status().is_success());
        let request = SubmitRequest { workflow: busy_workflow(), ..Default::default() };
        let run = client.submit(&request, None).await.expect("submitted");
        let before = rss_mib();
        let mut load = Command::new(env!("CARGO_BIN_EXE_events-load"))
            .args([&url, &key, &run.id, "--clients", "1000"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("events-load starts");
        let mut out = BufReader::new(load.stdout.take().expect("stdout"));
        let mut line = String::new();
        let out = tokio::task::spawn_blocking(move || {
            let _ = out.read_line(&mut line);
            (out, line)
        })
        .await
        .expect("ready");
        let (mut out, ready) = out;
        assert_eq!(ready.trim(), "ready", "{ready}");
        let connected = rss_mib();
        http.post(format!("{url}/v1/queue/resume")).bearer_auth(&key).send().await.expect("resume");
        let report = tokio::task::spawn_blocking(move || {
            let mut report = String::new();
            let _ = out.read_line(&mut report);
            let _ = load.wait();
            report
        })
        .await
        .expect("a report");
        println!("1,000 clients on one run of 200 nodes: {}", report.trim());
        println!(
            "server memory: {before:.1} MiB before, {connected:.1} MiB with 1,000 streams open ({:.1} KiB a stream)",
            (connected - before) * 1024.0 / 1000.0
        );
        serving.stop().await;
    });
}
