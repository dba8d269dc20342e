//! A `switchyard serve` process on an ephemeral port and a real HTTP client for it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A server process over a data folder.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) url: String,
    /// `/metrics`, when asked for.
    pub(crate) metrics: Option<String>,
    /// Kept open, so the server can go on printing.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(data: &Path) -> Served {
    serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data, &[])
}

/// Starts the server from `cmd` (its environment and folder set by the caller).
pub(crate) fn serve_with(cmd: Command, data: &Path, extra: &[&str]) -> Served {
    serve_logged(cmd, data, extra, Stdio::null())
}

/// As [`serve_with`], its log (stderr) going to `log`.
pub(crate) fn serve_logged(mut cmd: Command, data: &Path, extra: &[&str], log: Stdio) -> Served {
    let workers = if extra.contains(&"--workers") { &[][..] } else { &["--workers", "2"][..] };
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--grace-ms", "200", "--data"])
        .arg(data)
        .args(workers)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the server starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("its address");
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
    let metrics = extra.contains(&"--metrics-listen").then(|| {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the metrics address");
        line.trim().strip_prefix("metrics on ").unwrap_or_else(|| panic!("{line:?}")).to_string()
    });
    Served { child, url, metrics, _stdout: stdout }
}

pub(crate) fn create_key(data: &Path, tenant: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--create-key", tenant, "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A small local workflow: noise, a resize and a grid.
pub(crate) fn workflow() -> Value {
    serde_json::from_str(include_str!("../../fixtures/run/sizes-and-grid.json")).unwrap()
}

/// The README's cloud shot (three paid calls; 74 cr at list price).
pub(crate) fn shot() -> Value {
    let text = std::fs::read_to_string(crate::spend::root().join("workflows/cloud-shot.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A local workflow that takes a few seconds on two cores.
pub(crate) fn slow_workflow() -> Value {
    json!({
        "format": "switchyard.workflow", "version": 1, "name": "slow",
        "nodes": {
            "noise": { "type": "image.noise", "params": { "width": 2048, "height": 2048 } },
            "blur": { "type": "image.blur", "params": { "sigma": 20.0 }, "inputs": { "image": "noise.image" } }
        }
    })
}

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
}

impl Client {
    pub(crate) fn new(url: &str) -> Self {
        Self { http: reqwest::Client::new(), url: url.to_string() }
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(key), None).await
    }

    pub(crate) async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(key), Some(body.to_string().into_bytes())).await
    }

    pub(crate) async fn put(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(key), Some(body.to_string().into_bytes())).await
    }

    pub(crate) async fn submit(&self, key: &str, workflow: Value) -> String {
        let (status, run) = self.post("/v1/runs", key, &json!({ "workflow": workflow })).await;
        assert_eq!(status, 201, "{run}");
        run["id"].as_str().unwrap().to_string()
    }

    /// Polls until the run is in one of `states`.
    pub(crate) async fn wait_for(&self, key: &str, id: &str, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, run) = self.get(&format!("/v1/runs/{id}"), key).await;
            if states.contains(&run["state"].as_str().unwrap_or_default()) {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} stuck: {run}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
