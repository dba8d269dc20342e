//! A load generator for `switchyard serve`, run as a process of its own: `clients`
//! concurrent clients submit `requests` runs in all (a small local workflow), closed-loop,
//! or at a fixed `rate` per second (open-loop); one JSON line reports submissions per
//! second and latency.
//!
//! `serve-load URL KEY [--requests 2000] [--clients 16] [--rate 0] [--pause]`. With
//! `--pause` the tenant's queue is paused first, so only submission is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Options {
    url: String,
    key: String,
    requests: usize,
    clients: usize,
    rate: u64,
    pause: bool,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: serve-load URL KEY [--requests N] [--clients N] [--rate PER_S] [--pause]";
    let (url, key) = (args.next().ok_or(usage)?, args.next().ok_or(usage)?);
    let mut o = Options { url, key, requests: 2000, clients: 16, rate: 0, pause: false };
    while let Some(flag) = args.next() {
        if flag == "--pause" {
            o.pause = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n = value.parse::<u64>().map_err(|_| format!("{flag} takes a whole number, not {value:?}"))?;
        match flag.as_str() {
            "--requests" => o.requests = n.clamp(1, 1_000_000) as usize,
            "--clients" => o.clients = n.clamp(1, 1024) as usize,
            "--rate" => o.rate = n.min(1_000_000),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

const WORKFLOW: &str = r#"{"workflow": {"format": "switchyard.workflow", "version": 1, "name": "load",
  "nodes": {"noise": {"type": "image.noise", "params": {"width": 64, "height": 64}},
            "blur": {"type": "image.blur", "params": {"sigma": 1.5}, "inputs": {"image": "noise.image"}}}}}"#;

async fn client(http: reqwest::Client, o: Arc<Options>, next: Arc<AtomicUsize>, started: Instant) -> Vec<Duration> {
    let mut latencies = Vec::new();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= o.requests {
            return latencies;
        }
        if o.rate > 0 {
            let due = started + Duration::from_secs_f64(n as f64 / o.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let t = Instant::now();
        let reply = http
            .post(format!("{}/v1/runs", o.url))
            .bearer_auth(&o.key)
            .header("content-type", "application/json")
            .body(WORKFLOW)
            .send()
            .await;
        match reply {
            Ok(r) if r.status().as_u16() == 201 => latencies.push(t.elapsed()),
            Ok(r) => eprintln!("serve-load: submit answered {}", r.status()),
            Err(e) => eprintln!("serve-load: {e}"),
        }
    }
}

fn main() {
    let o = match parse() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("serve-load: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let line = rt.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(o.clients).build().expect("an HTTP client");
        if o.pause {
            let r = http.post(format!("{}/v1/queue/pause", o.url)).bearer_auth(&o.key).send().await;
            if !r.is_ok_and(|r| r.status().is_success()) {
                eprintln!("serve-load: cannot pause the queue");
            }
        }
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..o.clients)
            .map(|_| tokio::spawn(client(http.clone(), Arc::clone(&o), Arc::clone(&next), started)))
            .collect();
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap_or_default());
        }
        let took = started.elapsed().as_secs_f64();
        latencies.sort();
        let pct = |p: f64| {
            let n = latencies.len();
            latencies.get(((n as f64 * p) as usize).min(n.saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        format!(
            "{{\"submitted\":{},\"seconds\":{took:.3},\"per_s\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
            latencies.len(),
            latencies.len() as f64 / took.max(1e-9),
            pct(0.50),
            pct(0.99)
        )
    });
    println!("{line}");
}
