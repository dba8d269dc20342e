//! End to end on the farm: one 2,000-frame local batch (load, blur, save) submitted with
//! `switchyard farm submit` and run by `switchyard worker` processes on this machine, timed
//! from the workers' start to the last task done. Configurations: 1, 2 and 3 one-slot
//! workers, one 3-slot worker, and one one-slot worker that joins through a server's URL
//! (frames fetched and files sent back over HTTP, by hash); the speed-up is against one
//! one-slot worker on the database. This machine has as many cores as `nproc` says, which is
//! where scaling stops for CPU-bound frames.
//!
//! `cargo bench --bench farm_scale` (PostgreSQL as the tests find it).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_session::farm::Farm;
use switchyard_testkit::TestDatabase;

const FRAMES: u32 = 2_000;
const CHUNK: &str = "20";

fn main() {
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    write_batch(tmp.path());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{FRAMES} frames (96x96, blur sigma 3), tasks of {CHUNK} frames, {cores} cores");
    let mut base = None;
    for (workers, slots, remote) in [(1, 1, false), (2, 1, false), (3, 1, false), (1, 3, false), (1, 1, true)] {
        let db = rt.block_on(TestDatabase::create());
        let farm = rt.block_on(Farm::connect(&db.url, 2)).expect("farm");
        let out = tmp.path().join(format!("out-{workers}x{slots}"));
        let submitted = Command::new(bin)
            .args(["farm", "submit", tmp.path().join("blur.json").to_str().expect("path")])
            .args(["--batch", &format!("{}/frames/*.png", tmp.path().display()), "--bind", "load.path"])
            .args(["--chunk", CHUNK, "--out", out.to_str().expect("path"), "--database", &db.url])
            .output()
            .expect("submit");
        assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
        let server = remote.then(|| Server::start(bin, &db.url, &tmp.path().join("srv")));
        let started = Instant::now();
        let mut children: Vec<Child> = (0..workers)
            .map(|i| {
                let mut cmd = Command::new(bin);
                cmd.args(["worker", "--id", &format!("w{i}"), "--slots", &slots.to_string()]);
                match &server {
                    Some(s) => cmd.args(["--server", &s.url]).env("SWITCHYARD_TOKEN", &s.key),
                    None => cmd.args(["--database", &db.url]),
                };
                cmd.env("XDG_CACHE_HOME", tmp.path().join(format!("cache-{workers}x{slots}-{remote}-{i}")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("worker")
            })
            .collect();
        loop {
            let summary = rt.block_on(farm.summary()).expect("summary");
            if summary.iter().all(|(_, state, _)| state == "done") && !summary.is_empty() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(900), "stuck: {summary:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let secs = started.elapsed().as_secs_f64();
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let speedup = base.get_or_insert(secs).to_owned() / secs;
        let how = if remote { " through the server" } else { "" };
        println!(
            "{workers} worker(s) x {slots} slot(s){how}: {secs:.2} s, {:.0} frames/s, speed-up {speedup:.2}x",
            f64::from(FRAMES) / secs
        );
        drop(server);
        rt.block_on(db.drop_now());
    }
}

/// The frames and the workflow that blurs each one.
fn write_batch(dir: &Path) {
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).expect("frames folder");
    for i in 0..FRAMES {
        let img =
            image::RgbImage::from_fn(96, 96, |x, y| image::Rgb([(x * 3 + i) as u8, (y * 5) as u8, (i % 251) as u8]));
        img.save(frames.join(format!("f{i:04}.png"))).expect("frame");
    }
    let workflow = serde_json::json!({ "format": "switchyard.workflow", "version": 1, "name": "blur frames",
        "nodes": {
            "load": { "type": "image.load", "params": { "path": "frames/f0000.png" } },
            "blur": { "type": "image.blur", "params": { "sigma": 3.0 }, "inputs": { "image": "load.image" } },
            "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "blur.image" } }
        } });
    std::fs::write(dir.join("blur.json"), workflow.to_string()).expect("workflow");
}

/// A farm server (`serve --farm`) for workers that join through its URL, with a worker key.
struct Server {
    child: Child,
    url: String,
    key: String,
    /// Kept open, so the server can go on printing.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start(bin: &str, database: &str, data: &Path) -> Self {
        use std::io::BufRead as _;
        let made = Command::new(bin)
            .args(["serve", "--database", database, "--data", data.to_str().expect("path")])
            .args(["--create-key", "farm", "--role", "worker"])
            .output()
            .expect("key");
        let key = String::from_utf8_lossy(&made.stdout).trim().to_string();
        let mut child = Command::new(bin)
            .args(["serve", "--database", database, "--farm", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("server");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("its address");
        let url = line.trim().strip_prefix("listening on ").expect("listening on …").to_string();
        Self { child, url, key, _stdout: stdout }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
