//! End to end on the farm: one 2,000-frame local batch (load, blur, save) submitted with
//! `switchyard farm submit` and run by `switchyard worker` processes on this machine, timed
//! from the workers' start to the last task done. Configurations: 1, 2 and 3 one-slot
//! workers, and one 3-slot worker; the speed-up is against one one-slot worker. This machine
//! has as many cores as `nproc` says, which is where scaling stops for CPU-bound frames.
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
    for (workers, slots) in [(1, 1), (2, 1), (3, 1), (1, 3)] {
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
        let started = Instant::now();
        let mut children: Vec<Child> = (0..workers)
            .map(|i| {
                Command::new(bin)
                    .args(["worker", "--database", &db.url, "--id", &format!("w{i}"), "--slots", &slots.to_string()])
                    .env("XDG_CACHE_HOME", tmp.path().join(format!("cache-{workers}x{slots}-{i}")))
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
        println!(
            "{workers} worker(s) x {slots} slot(s): {secs:.2} s, {:.0} frames/s, speed-up {speedup:.2}x",
            f64::from(FRAMES) / secs
        );
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
