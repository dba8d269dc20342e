//! A billed batch on the farm with real processes: three `switchyard worker`s against one
//! PostgreSQL (the farm's queue and the ledger in one database) and the mock providers. Each
//! frame makes a paid call (Recraft's background removal). Workers are killed with
//! `kill -9` at random moments and replaced; every frame is still written once, every paid
//! call the provider saw is posted once (or, if the kill fell between sending and the
//! reply, left unknown for reconciliation), and no hold stays pending. The workers share
//! their cache folder, as a farm's workers share a mounted folder, so a retried task reuses
//! what its dead worker already paid for.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_session::farm::Farm;

use crate::spend::{AT, Farm as Paid};

/// Frames in the batch, and frames a task.
const FRAMES: u32 = 200;
const CHUNK: u32 = 4;
/// Workers killed (and replaced) during the run.
const KILLS: usize = 4;

#[test]
fn a_billed_batch_survives_kill_9_with_every_frame_once_and_one_charge_per_paid_call() {
    let paid = Paid::on_postgres();
    let url = paid.ledger();
    let dir = paid.dir.path();
    let out = dir.join("out");
    let run = submit(&paid, dir, &out, FRAMES);
    // One runtime for the pool and every read of it: a pool made on a runtime that is then
    // dropped fails once it needs a new connection ("the Tokio context is being shut down").
    let rt = crate::support::runtime();
    let farm = rt.block_on(Farm::connect(&url, 2)).unwrap();
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("kill seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut workers: Vec<(String, Child)> = (0..3).map(|i| spawn(&paid, &url, &format!("w{i}"))).collect();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut killed = 0;
    let tasks = loop {
        let tasks = rt.block_on(farm.tasks(&run)).unwrap();
        if tasks.iter().all(|t| t.state == "done") {
            break tasks;
        }
        assert!(tasks.iter().all(|t| t.state != "failed"), "{tasks:?}");
        assert!(Instant::now() < deadline, "the batch did not finish: {tasks:?}");
        if killed < KILLS {
            let victim = (next() % 3) as usize;
            let holding =
                rt.block_on(farm.leases()).unwrap().iter().any(|l| l.3.as_deref() == Some(&workers[victim].0));
            if holding {
                std::thread::sleep(Duration::from_millis(next() % 120));
                let (id, mut child) = workers.remove(victim);
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
                workers.insert(victim, spawn(&paid, &url, &format!("{id}-{killed}")));
                continue;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    for (_, child) in &mut workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(killed, KILLS, "every kill landed on a worker holding a task");
    assert!(tasks.iter().any(|t| t.attempts >= 2), "a killed worker's task ran again");

    let (calls, posted) = check_outputs_and_books(&paid, &out, FRAMES);
    // The workers share their cache (a farm's shared folder), so a retried task reuses the
    // paid results its dead worker kept: a kill costs at most the one call it interrupted.
    assert!(calls <= FRAMES as usize + KILLS, "{calls} calls for {FRAMES} frames and {KILLS} kills");
    let retried = tasks.iter().filter(|t| t.attempts >= 2).count();
    eprintln!("{calls} calls, {posted} posted, {retried} tasks retried");
}

/// Checks that every one of `frames` frames was written once under `out`, that every paid
/// call the provider saw is posted once or left unknown (a call cut off mid-flight), that no
/// hold stays pending and the wallet paid the posted calls only: `(calls, posted)`.
fn check_outputs_and_books(paid: &Paid, out: &Path, frames: u32) -> (usize, usize) {
    let mut written: Vec<String> =
        std::fs::read_dir(out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    let want: Vec<String> = (0..frames).map(|i| format!("f{i:03}.png")).collect();
    assert_eq!(written, want, "every frame once");

    let holds = paid.all_holds();
    let calls = paid.mock.requests_to("recraft.remove_background").len();
    let (posted, _) = check_call_holds(&holds, calls, frames as usize);
    let spent: i64 = holds.iter().filter(|h| h["kind"] == "call").map(|h| h["posted"].as_i64().unwrap_or(0)).sum();
    let held_unknown: i64 =
        holds.iter().filter(|h| h["state"] == "unknown").map(|h| h["amount"].as_i64().unwrap_or(0)).sum();
    assert_eq!(paid.available(), 20_000 - spent - held_unknown, "the wallet paid the posted calls and nothing else");
    (calls, posted)
}

/// Checks a batch's holds against the `calls` the provider saw: no hold stays pending, every
/// call is posted once or left unknown (cut off mid-flight), no (attempt, item, node) is
/// charged twice, and each of `frames` frames' calls is paid: `(posted, unknown)`.
pub(crate) fn check_call_holds(holds: &[serde_json::Value], calls: usize, frames: usize) -> (usize, usize) {
    let count = |kind: &str, state: &str| holds.iter().filter(|h| h["kind"] == kind && h["state"] == state).count();
    assert_eq!(holds.iter().filter(|h| h["state"] == "pending").count(), 0, "no hold stays pending: {holds:#?}");
    let (posted, unknown) = (count("call", "posted"), count("call", "unknown"));
    assert!(
        posted <= calls && calls <= posted + unknown,
        "{calls} paid calls reached the provider; {posted} posted, {unknown} left for reconciliation"
    );
    let keys: BTreeSet<(String, String)> = holds
        .iter()
        .filter(|h| h["kind"] == "call" && h["state"] == "posted")
        .map(|h| (h["run_id"].as_str().unwrap_or("").to_string(), h["node_id"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(keys.len(), posted, "no (attempt, item, node) is charged twice");
    assert!(posted >= frames, "every frame's call is paid for");
    (posted, unknown)
}

/// The database goes away for three seconds mid-run (every connection cut, new ones
/// refused), longer than a lease. Workers wait it out and reconnect; the leases that expired
/// meanwhile are taken back and run again; paid calls that could not take a hold are
/// interrupted, not blamed on a worker; every frame is written once and paid once.
#[test]
fn a_billed_batch_rides_out_a_database_outage_with_nothing_lost_or_doubled() {
    const N: u32 = 80;
    let paid = Paid::on_postgres();
    let proxy = switchyard_testkit::Proxy::start(&paid.ledger());
    let dir = paid.dir.path();
    let out = dir.join("out");
    let run = submit(&paid, dir, &out, N);
    let rt = crate::support::runtime();
    let farm = rt.block_on(Farm::connect(&paid.ledger(), 2)).unwrap();
    let mut workers: Vec<(String, Child)> = (0..3).map(|i| spawn(&paid, &proxy.url, &format!("w{i}"))).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = |tasks: &[switchyard_session::farm::TaskRow]| tasks.iter().filter(|t| t.state == "done").count();
    while done(&rt.block_on(farm.tasks(&run)).unwrap()) < 4 {
        assert!(Instant::now() < deadline, "the batch never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    proxy.cut();
    std::thread::sleep(Duration::from_secs(3));
    proxy.restore();
    let tasks = loop {
        let tasks = rt.block_on(farm.tasks(&run)).unwrap();
        if tasks.iter().all(|t| t.state == "done") {
            break tasks;
        }
        assert!(tasks.iter().all(|t| t.state != "failed"), "{tasks:?}");
        assert!(Instant::now() < deadline, "the batch did not finish after the outage: {tasks:?}");
        std::thread::sleep(Duration::from_millis(25));
    };
    for (_, child) in &mut workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(tasks.len(), N.div_ceil(CHUNK) as usize);
    assert!(rt.block_on(farm.blocklist()).unwrap().is_empty(), "the outage is blamed on no worker");
    let (calls, posted) = check_outputs_and_books(&paid, &out, N);
    let retried = tasks.iter().filter(|t| t.attempts >= 2).count();
    eprintln!("{calls} calls, {posted} posted for {N} frames across the outage; {retried} tasks ran again");
}

/// Writes the frames and a workflow that cuts each out on the provider, and submits it billed
/// to `studio` at a fixed price time: the run's id.
fn submit(paid: &Paid, dir: &Path, out: &Path, frames_n: u32) -> String {
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for i in 0..frames_n {
        let img = image::RgbImage::from_fn(24, 16, |x, y| image::Rgb([(x * 9 + i) as u8, (y * 5) as u8, i as u8]));
        img.save(frames.join(format!("f{i:03}.png"))).unwrap();
    }
    let workflow = json!({ "format": "switchyard.workflow", "version": 1, "name": "cut out frames",
        "nodes": {
            "load": { "type": "image.load", "params": { "path": "frames/f000.png" } },
            "cutout": { "type": "cloud.remove_background", "params": { "provider": "recraft:remove-background" },
                "inputs": { "image": "load.image" } },
            "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "cutout.image" } }
        } });
    let wf = dir.join("cutout.json");
    std::fs::write(&wf, workflow.to_string()).unwrap();
    let pattern = format!("{}/*.png", frames.display());
    let unpaid = paid
        .cmd()
        .args(["farm", "submit", wf.to_str().unwrap(), "--batch", &pattern, "--bind", "load.path", "--at", AT])
        .args(["--out", out.to_str().unwrap(), "--database", &paid.ledger()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&unpaid.stderr);
    assert_eq!(unpaid.status.code(), Some(2), "{err}");
    assert!(err.contains("makes paid calls") && err.contains("--account"), "{err}");
    let submitted = paid
        .cmd()
        .args(["farm", "submit", wf.to_str().unwrap(), "--batch", &pattern, "--bind", "load.path", "--at", AT])
        .args(["--chunk", &CHUNK.to_string(), "--max-attempts", "9", "--account", "studio"])
        .args(["--out", out.to_str().unwrap(), "--database", &paid.ledger()])
        .output()
        .unwrap();
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    String::from_utf8(submitted.stdout).unwrap().trim().to_string()
}

/// A worker process with the mock's settings and keys, and the cache folder the workers
/// share.
fn spawn(paid: &Paid, url: &str, id: &str) -> (String, Child) {
    let child = paid
        .cmd()
        .args(["worker", "--database", url, "--id", id, "--lease-ms", "1500"])
        .env("XDG_CACHE_HOME", paid.dir.path().join("shared-cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (id.to_string(), child)
}
