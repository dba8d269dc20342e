//! 1,000 concurrent cloud nodes against the mock provider server (run as its own process, so
//! its memory is not counted): the `switchyard` binary's peak RSS and wall time. Then the
//! client layer's overhead per call: `ProviderClient::send` (limits, retry bookkeeping,
//! capped body read, request-id capture) against a bare reqwest call of the same request,
//! sequentially, on the same mock. Goals: under 200 MB and under 0.5 ms.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_nodes::cloud::client::{Auth, ClientConfig, ProviderClient, Resend};
use switchyard_nodes::cloud::secret::ApiKey;

const NODES: usize = 1000;
const CALLS: u32 = 300;

fn main() {
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut mock = Command::new(bin)
        .args(["mock-providers", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the mock");
    let url = format!("http://127.0.0.1:{port}/bfl");
    wait_for(port);
    let tmp = tempfile::tempdir().expect("temp dir");
    let nodes: serde_json::Map<String, serde_json::Value> = (0..NODES)
        .map(|i| {
            let params = serde_json::json!({ "provider": "bfl:flux-2-pro", "prompt": format!("frame {i}"), "width": 256, "height": 256, "seed": i });
            (format!("gen{i}"), serde_json::json!({ "type": "cloud.text_to_image", "params": params }))
        })
        .collect();
    let wf = serde_json::json!({ "format": "switchyard.workflow", "version": 1, "nodes": nodes });
    std::fs::write(tmp.path().join("wf.json"), wf.to_string()).expect("write workflow");
    let config = format!(
        "[providers.bfl]\nbase_url = \"{url}\"\nconcurrency = {NODES}\nrate_per_s = 100000\npoll_interval_ms = 50\n"
    );
    std::fs::write(tmp.path().join("switchyard.toml"), config).expect("write settings");
    let started = Instant::now();
    let out = Command::new(bin)
        .current_dir(tmp.path())
        .env("BFL_API_KEY", switchyard_mock::keys::BFL)
        .args(["run", "wf.json", "--json", "--no-disk-cache", "--memory-cache-mb", "0", "--cloud-limit"])
        .arg(NODES.to_string())
        .output()
        .expect("run");
    let wall = started.elapsed();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    println!(
        "{NODES} concurrent cloud nodes (BFL create, 2 polls, download, decode): {} executed, {} failed in {:.2} s",
        doc["counts"]["executed"],
        doc["counts"]["failed"],
        wall.as_secs_f64()
    );
    println!("peak RSS of the switchyard process: {} MiB (goal: under 200 MB)", doc["peak_rss_mib"]);
    overhead(&url);
    let _ = mock.kill();
    let _ = mock.wait();
}

fn wait_for(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the mock did not start");
}

fn overhead(url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let config = ClientConfig { rate_per_s: 100_000, ..ClientConfig::default() };
    let key = ApiKey::new(switchyard_mock::keys::BFL);
    let client =
        ProviderClient::new("bfl", url, Some(key), String::new(), config, "x-request-id", Auth::Header("x-key"))
            .expect("client");
    let raw = reqwest::Client::new();
    let target = format!("{url}/v1/flux-2-pro");
    let body = serde_json::json!({ "prompt": "overhead", "width": 256, "height": 256 });
    let cancel = tokio_util::sync::CancellationToken::new();
    let http = client.http().expect("the HTTP client builds");
    rt.block_on(async {
        let mut layer = Vec::new();
        let mut bare = Vec::new();
        for i in 0..CALLS * 2 {
            let deadline = Instant::now() + Duration::from_secs(30);
            let started = Instant::now();
            if i % 2 == 0 {
                let build = || http.post(&target).header("x-key", switchyard_mock::keys::BFL).json(&body);
                client.send(Resend::OnlyIfRefused, &cancel, deadline, build).await.expect("send");
                layer.push(started.elapsed());
            } else {
                let resp = raw.post(&target).header("x-key", switchyard_mock::keys::BFL).json(&body).send().await.expect("send");
                let _ = resp.bytes().await.expect("body");
                bare.push(started.elapsed());
            }
        }
        let (l, b) = (median(layer), median(bare));
        println!(
            "one create round trip on the mock: client layer {:.3} ms, bare reqwest {:.3} ms; overhead {:.3} ms per call (goal: under 0.5 ms)",
            ms(l),
            ms(b),
            ms(l) - ms(b)
        );
    });
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
