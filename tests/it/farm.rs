//! `switchyard farm` against a real PostgreSQL farm database: status lists workers, tasks,
//! leases and the blocklist; drain and unblock change them; plan shows the splitting rule.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use switchyard_session::farm::{BLOCK_AFTER, Farm, NewTask, Outcome, Requires, Worker};

fn farm_cmd(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard")).arg("farm").args(args).args(["--database", url]).output();
    let out = out.unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn farm_status_drain_unblock_and_plan() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    rt.block_on(async {
        let farm = Farm::connect(&db.url, 2).await.unwrap();
        let tasks: Vec<NewTask> = (0..4)
            .map(|i| NewTask {
                seq: i,
                from: i,
                to: i + 1,
                priority: 0,
                max_attempts: 9,
                requires: Requires::default(),
                kind: "graph".into(),
            })
            .collect();
        farm.add("r1", &tasks).await.unwrap();
        let w = Worker { id: "w1".into(), host: "node-1".into(), slots: 4, memory_gb: 64.0, ..Worker::default() };
        farm.register(&w).await.unwrap();
        for _ in 0..3 {
            let lease = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
            farm.complete(&lease, &Outcome::Failed("segfault".into())).await.unwrap();
        }
        let other = Worker { id: "w2".into(), host: "node-2".into(), slots: 4, memory_gb: 64.0, ..Worker::default() };
        farm.register(&other).await.unwrap();
        farm.claim(&other, 1, 60_000).await.unwrap();
    });
    let (code, out, err) = farm_cmd(&db.url, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["workers"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status["leases"][0]["worker"], "w2", "{status}");
    assert_eq!(
        (status["blocklist"][0]["worker"].as_str(), status["blocklist"][0]["blocked"].as_bool()),
        (Some("w1"), Some(true))
    );
    let (code, out, _) = farm_cmd(&db.url, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("w1") && out.contains("BLOCKED") && out.contains("held by w2"), "{out}");
    let (code, out, _) = farm_cmd(&db.url, &["drain", "w1"]);
    assert!(code == 0 && out.contains("draining"), "{out}");
    let (code, _, err) = farm_cmd(&db.url, &["drain", "nobody"]);
    assert!(code == 2 && err.contains("no worker nobody"), "{err}");
    let (code, out, _) = farm_cmd(&db.url, &["unblock", "r1"]);
    assert!(code == 0 && out.contains("1 blocklist entry cleared"), "{out}");
    let (_, out, _) = farm_cmd(&db.url, &["status", "--json"]);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["blocklist"], serde_json::json!([]));
    assert_eq!(status["workers"][0]["state"], "draining");
    let (code, out, _) = farm_cmd(&db.url, &["plan", "--items", "25", "--chunk", "10", "--json"]);
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((code, plan[2]["from"].as_u64(), plan[2]["to"].as_u64()), (0, Some(20), Some(25)), "{plan}");
    let none = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["farm", "status"])
        .env_remove("SWITCHYARD_FARM_DATABASE")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no farm database"));
    rt.block_on(db.drop_now());
}

/// A batch on three worker processes, one of them killed with `kill -9` while it holds a
/// task: every frame is written once, every task ends done, and the dead worker's task ran
/// again elsewhere with its attempt counted.
#[test]
fn three_workers_finish_a_batch_when_one_is_killed_mid_task() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let (run, out) =
        submit_blur_batch(dir.path(), &db.url, Batch { frames: 12, side: 384, sigma: 6.0, chunk: 2, apart: false });
    let spawn = |id: &str| spawn_worker(&db.url, id, 1500, dir.path());
    let mut doomed = spawn("w1");
    let farm = rt.block_on(Farm::connect(&db.url, 2)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !rt.block_on(farm.leases()).unwrap().iter().any(|l| l.3.as_deref() == Some("w1")) {
        assert!(std::time::Instant::now() < deadline, "w1 never took a task");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let mut others = [spawn("w2"), spawn("w3")];
    let tasks = loop {
        let tasks = rt.block_on(farm.tasks(&run)).unwrap();
        if tasks.iter().all(|t| t.state == "done") {
            break tasks;
        }
        assert!(std::time::Instant::now() < deadline, "the batch did not finish: {tasks:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    for w in &mut others {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert_eq!(tasks.len(), 6);
    assert!(tasks.iter().any(|t| t.attempts >= 2), "the dead worker's task ran again: {tasks:?}");
    assert!(tasks.iter().all(|t| t.leased_by.as_deref() != Some("w1") || t.attempts == 1), "{tasks:?}");
    let mut written: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    let want: Vec<String> = (0..12).map(|i| format!("f{i:02}.png")).collect();
    assert_eq!(written, want, "every frame once");
    rt.block_on(db.drop_now());
}

/// A cancel reaches a task that is running on a worker within about a second: the worker
/// stops it (frames after the cancel are never written) and never reports it.
#[test]
fn a_cancel_stops_a_running_task_within_a_second() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let (run, out) =
        submit_blur_batch(dir.path(), &db.url, Batch { frames: 8, side: 1024, sigma: 24.0, chunk: 8, apart: false });
    let mut worker = spawn_worker(&db.url, "w1", 60_000, dir.path());
    let farm = rt.block_on(Farm::connect(&db.url, 2)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let written = || std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
    while written() == 0 {
        assert!(std::time::Instant::now() < deadline, "no frame was written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(rt.block_on(farm.cancel_run(&run)).unwrap(), 1);
    // The lease lasts a minute, so only the once-a-second cancel check can stop it now.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let after = written();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(written(), after, "no frame is written after the cancel reached the worker");
    assert!(after < 8, "the task was stopped before its last frame ({after} written)");
    let task = rt.block_on(farm.tasks(&run)).unwrap().remove(0);
    assert_eq!(task.state, "cancelled", "never reported as done");
    let _ = worker.kill();
    let _ = worker.wait();
    rt.block_on(db.drop_now());
}

/// A batch of frames to blur on the farm.
struct Batch {
    frames: u32,
    /// Each frame is `side` x `side` pixels.
    side: u32,
    sigma: f64,
    /// Frames a task.
    chunk: u32,
    /// The workflow sits in a folder of its own, apart from the frames' folder.
    apart: bool,
}

/// Writes `batch.frames` PNG frames under `dir/frames` and a workflow that blurs each into
/// `out/{item}.png`, and submits it to the farm at `url`: the run's id and the output folder.
fn submit_blur_batch(dir: &Path, url: &str, batch: Batch) -> (String, PathBuf) {
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for i in 0..batch.frames {
        let img = image::RgbImage::from_fn(batch.side, batch.side, |x, y| {
            image::Rgb([(x * 7 + i) as u8, (y * 3) as u8, i as u8])
        });
        img.save(frames.join(format!("f{i:02}.png"))).unwrap();
    }
    let wf = if batch.apart { dir.join("wf").join("blur.json") } else { dir.join("blur.json") };
    std::fs::create_dir_all(wf.parent().unwrap()).unwrap();
    let workflow = serde_json::json!({ "format": "switchyard.workflow", "version": 1, "name": "blur frames",
        "nodes": {
            "load": { "type": "image.load", "params": { "path": frames.join("f00.png") } },
            "blur": { "type": "image.blur", "params": { "sigma": batch.sigma }, "inputs": { "image": "load.image" } },
            "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "blur.image" } }
        } });
    std::fs::write(&wf, workflow.to_string()).unwrap();
    let out = dir.join("out");
    let pattern = format!("{}/*.png", frames.display());
    let chunk = batch.chunk.to_string();
    let submitted = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["farm", "submit", wf.to_str().unwrap(), "--batch", &pattern, "--bind", "load.path", "--chunk", &chunk])
        .args(["--out", out.to_str().unwrap(), "--database", url])
        .output()
        .unwrap();
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    (String::from_utf8(submitted.stdout).unwrap().trim().to_string(), out)
}

/// A `switchyard worker` process with its own cache folder under `dir`.
fn spawn_worker(url: &str, id: &str, lease_ms: u32, dir: &Path) -> std::process::Child {
    worker_cmd(url, id, lease_ms, dir).spawn().unwrap()
}

/// The command for a worker with its own cache folder under `dir`.
fn worker_cmd(url: &str, id: &str, lease_ms: u32, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(["worker", "--database", url, "--id", id, "--lease-ms", &lease_ms.to_string()])
        .env("XDG_CACHE_HOME", dir.join(format!("cache-{id}")))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// A workflow whose `requires` no registered worker meets is refused at submit, naming what
/// it needs and what the workers offer; one a worker meets is queued, and its tasks go only
/// to that worker.
#[test]
fn a_workflow_no_worker_can_run_is_refused_at_submit_and_a_runnable_one_goes_to_the_worker_that_can() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let farm = rt.block_on(Farm::connect(&db.url, 2)).unwrap();
    let tagged = Worker {
        id: "nuke-box".into(),
        host: "n1".into(),
        slots: 1,
        memory_gb: 64.0,
        tags: vec!["licensed-nuke".into()],
        ..Worker::default()
    };
    let plain = Worker { id: "plain".into(), host: "n2".into(), slots: 1, memory_gb: 256.0, ..Worker::default() };
    rt.block_on(async {
        farm.register(&tagged).await.unwrap();
        farm.register(&plain).await.unwrap();
    });
    let frame = dir.path().join("frames");
    std::fs::create_dir_all(&frame).unwrap();
    image::RgbImage::new(8, 8).save(frame.join("f0.png")).unwrap();
    let submit = |requires: Value| {
        let wf = dir.path().join("needs.json");
        let workflow = serde_json::json!({ "format": "switchyard.workflow", "version": 1, "name": "needs",
            "nodes": {
                "load": { "type": "image.load", "params": { "path": "frames/f0.png" } },
                "blur": { "type": "image.blur", "inputs": { "image": "load.image" }, "requires": requires },
                "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "blur.image" } }
            } });
        std::fs::write(&wf, workflow.to_string()).unwrap();
        let pattern = format!("{}/*.png", frame.display());
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["farm", "submit", wf.to_str().unwrap(), "--batch", &pattern, "--bind", "load.path"])
            .args(["--out", dir.path().join("out").to_str().unwrap(), "--database", &db.url])
            .output()
            .unwrap();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (out.status.code(), text(out.stdout).trim().to_string(), text(out.stderr))
    };
    type Case = (Value, &'static [&'static str]);
    let refused: [Case; 3] = [
        (serde_json::json!({ "gpu_brand": "nvidia" }), &["not compatible", "a nvidia GPU", "nuke-box (64 GB"]),
        (serde_json::json!({ "memory_gb": 512 }), &["not compatible", "at least 512 GB", "plain (256 GB"]),
        (serde_json::json!({ "memory_gb": 128, "tags": ["licensed-nuke"] }), &["tags [licensed-nuke]"]),
    ];
    for (requires, says) in refused {
        let (code, _, err) = submit(requires.clone());
        assert_eq!(code, Some(2), "{requires}: {err}");
        assert!(says.iter().all(|s| err.contains(s)), "{requires}: {err}");
    }
    assert!(rt.block_on(farm.summary()).unwrap().is_empty(), "nothing was queued");
    let (code, run, err) = submit(serde_json::json!({ "memory_gb": 32, "tags": ["licensed-nuke"] }));
    assert_eq!(code, Some(0), "{err}");
    let (code, plan, _) = farm_cmd(&db.url, &["plan", &run]);
    assert!(code == 0 && plan.contains("1 frames in 1 task(s)") && plan.contains("(f0.png .. f0.png)"), "{plan}");
    let (code, _, err) = farm_cmd(&db.url, &["plan", "no-such-run"]);
    assert!(code == 2 && err.contains("no run no-such-run"), "{err}");
    rt.block_on(async {
        assert!(farm.claim(&plain, 1, 60_000).await.unwrap().is_empty(), "the untagged worker never gets it");
        let lease = farm.claim(&tagged, 1, 60_000).await.unwrap();
        assert_eq!(lease.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(), [run.as_str()]);
    });
    rt.block_on(db.drop_now());
}

/// A worker that fails every task of a run (it lacks the shared mount: its settings confine
/// inputs to the workflow's folder, and the frames lie elsewhere) fails three, is
/// blocklisted for the run, and the run completes on the other workers; `farm unblock`
/// clears it.
#[test]
fn a_worker_that_always_fails_is_blocklisted_and_the_run_completes_on_the_others() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let (run, out) =
        submit_blur_batch(dir.path(), &db.url, Batch { frames: 24, side: 256, sigma: 4.0, chunk: 1, apart: true });
    let settings = dir.path().join("no-mount.toml");
    std::fs::write(&settings, "[inputs]\nconfine = true\n").unwrap();
    let farm = rt.block_on(Farm::connect(&db.url, 2)).unwrap();
    let mut good =
        [spawn_worker(&db.url, "good-1", 60_000, dir.path()), spawn_worker(&db.url, "good-2", 60_000, dir.path())];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while rt.block_on(farm.workers()).unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the good workers never registered");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut broken =
        worker_cmd(&db.url, "broken", 60_000, dir.path()).env("SWITCHYARD_CONFIG", &settings).spawn().unwrap();
    let blocked = || rt.block_on(farm.blocklist()).unwrap().into_iter().find(|b| b.worker == "broken");
    let tasks = loop {
        let tasks = rt.block_on(farm.tasks(&run)).unwrap();
        if tasks.iter().all(|t| t.state == "done") {
            break tasks;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not finish: {tasks:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    for w in good.iter_mut().chain([&mut broken]) {
        let _ = w.kill();
        let _ = w.wait();
    }
    let entry = blocked().unwrap();
    assert_eq!(entry.failures, BLOCK_AFTER, "it stopped getting the run's tasks at the limit");
    assert!(entry.last_error.as_deref().unwrap_or("").contains("outside"), "{entry:?}");
    assert!(tasks.iter().all(|t| t.leased_by.as_deref() != Some("broken")), "every task ended on a good worker");
    assert_eq!(tasks.iter().filter(|t| t.attempts == 2).count(), 3, "the three it failed ran again: {tasks:?}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 24, "every frame was written");
    let (code, said, _) = farm_cmd(&db.url, &["unblock", &run, "--worker", "broken"]);
    assert!(code == 0 && said.contains("1 blocklist entry cleared"), "{said}");
    rt.block_on(db.drop_now());
}

/// `farm watch RUN` follows the run as a worker takes and finishes each task (events sent
/// with NOTIFY in the transactions that make them) and exits 0 when every task is done.
#[test]
fn farm_watch_follows_each_task_until_the_run_is_done() {
    use std::io::BufRead;
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let (run, _) =
        submit_blur_batch(dir.path(), &db.url, Batch { frames: 6, side: 96, sigma: 2.0, chunk: 2, apart: false });
    let mut watch = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["farm", "watch", &run, "--database", &db.url])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    // Its first line comes once it listens: no event can be missed after it.
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, format!("run {run}: 0 of 3 tasks done"));
    let mut worker = spawn_worker(&db.url, "w1", 60_000, dir.path());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = watch.wait().unwrap();
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    for seq in 0..3 {
        let mine: Vec<&str> = rest
            .iter()
            .filter(|l| l.starts_with(&format!("task {seq} ")))
            .map(|l| l.split_whitespace().nth(2).unwrap())
            .collect();
        assert_eq!(mine, ["leased", "done"], "task {seq}: {rest:?}");
    }
    assert!(rest.last().unwrap().ends_with("(3/3 done)"), "{rest:?}");
    rt.block_on(db.drop_now());
}

/// A pause reaches a running task within a second: the worker stops it (no frame is written
/// after), it waits as paused with its attempt not counted, and `farm resume` lets the run
/// finish with every frame written.
#[test]
fn a_pause_stops_a_running_task_within_a_second_and_resume_finishes_the_run() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let (run, out) =
        submit_blur_batch(dir.path(), &db.url, Batch { frames: 6, side: 768, sigma: 16.0, chunk: 6, apart: false });
    let mut worker = spawn_worker(&db.url, "w1", 60_000, dir.path());
    let farm = rt.block_on(Farm::connect(&db.url, 2)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let written = || std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
    while written() == 0 {
        assert!(std::time::Instant::now() < deadline, "no frame was written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, said, _) = farm_cmd(&db.url, &["pause", &run]);
    assert!(code == 0 && said.contains("1 task(s) paused"), "{said}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let after = written();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    assert_eq!(written(), after, "no frame is written while paused");
    assert!(after < 6, "the task was stopped before its last frame ({after} written)");
    let task = rt.block_on(farm.tasks(&run)).unwrap().remove(0);
    assert_eq!((task.state.as_str(), task.attempts), ("paused", 0), "{task:?}");
    let (code, said, _) = farm_cmd(&db.url, &["resume", &run]);
    assert!(code == 0 && said.contains("1 task(s) resumed"), "{said}");
    while rt.block_on(farm.tasks(&run)).unwrap()[0].state != "done" {
        assert!(std::time::Instant::now() < deadline, "the resumed run did not finish");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(written(), 6, "every frame");
    let (code, _, err) = farm_cmd(&db.url, &["pause", "no-such-run"]);
    assert!(code == 2 && err.contains("no run no-such-run"), "{err}");
    let _ = worker.kill();
    let _ = worker.wait();
    rt.block_on(db.drop_now());
}

/// An isolating worker's task whose process is killed with SIGKILL (what the kernel's
/// out-of-memory killer does) goes back to the queue for a machine with more memory: the
/// 8 GB worker never takes it again, the 64 GB one runs it, and the error says why.
#[test]
fn a_task_killed_for_memory_is_retried_on_a_machine_with_more() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let (run, out) =
        submit_blur_batch(dir.path(), &db.url, Batch { frames: 4, side: 768, sigma: 16.0, chunk: 4, apart: false });
    let farm = rt.block_on(Farm::connect(&db.url, 2)).unwrap();
    let mut small =
        worker_cmd(&db.url, "small", 60_000, dir.path()).args(["--isolate", "--memory-gb", "8"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let task = loop {
        if let Some(l) = rt.block_on(farm.leases()).unwrap().into_iter().find(|l| l.3.as_deref() == Some("small")) {
            break l.0;
        }
        assert!(std::time::Instant::now() < deadline, "small never took the task");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut big = worker_cmd(&db.url, "big", 60_000, dir.path()).args(["--memory-gb", "64"]).spawn().unwrap();
    while !rt.block_on(farm.workers()).unwrap().iter().any(|w| w.id == "big") {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let child = loop {
        if let Some(pid) = task_process(task) {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "no process runs task {task}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    // SAFETY: signalling a process id we just read; it is our grandchild.
    assert_eq!(unsafe { libc::kill(child, libc::SIGKILL) }, 0);
    let done = loop {
        let t = rt.block_on(farm.tasks(&run)).unwrap().remove(0);
        if t.state == "done" {
            break t;
        }
        assert!(t.state != "failed" && std::time::Instant::now() < deadline, "{t:?}");
        std::thread::sleep(std::time::Duration::from_millis(25));
    };
    for w in [&mut small, &mut big] {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert_eq!((done.leased_by.as_deref(), done.attempts), (Some("big"), 2), "{done:?}");
    let why = done.last_error.unwrap_or_default();
    assert!(why.contains("SIGKILL") && why.contains("small (8 GB)"), "{why}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4, "every frame");
    assert!(rt.block_on(farm.blocklist()).unwrap().is_empty(), "running out of memory blames no worker");
    rt.block_on(db.drop_now());
}

/// The process running farm task `task` (`switchyard worker-task … --task ID`), if any.
fn task_process(task: i64) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let has = |a: &str| args.contains(&a.as_bytes());
        if has("worker-task") && args.windows(2).any(|w| w[0] == b"--task" && w[1] == task.to_string().as_bytes()) {
            return Some(pid);
        }
    }
    None
}
