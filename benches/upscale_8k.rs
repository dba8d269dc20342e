//! Peak memory of an 8K (7680x4320) 2x upscale through the real binary: load, `onnx.image`
//! with the shipped `upscale2x` model in auto tiles, save as PNG. Prints the run's time and
//! the process's peak resident memory (Linux `VmHWM`, reported by `switchyard run --json`).
//! Goal: under 2 GiB.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const WIDTH: u32 = 7680;
const HEIGHT: u32 = 4320;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let input = tmp.path().join("frame_8k.png");
    let started = Instant::now();
    // A textured gradient: cheap to encode, yet not flat, so the model does real work.
    let img = image::RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let t = ((x ^ y) & 31) as u8;
        image::Rgb([(x * 255 / WIDTH) as u8 ^ t, (y * 255 / HEIGHT) as u8, 128 ^ t])
    });
    img.save(&input).expect("write the 8K input");
    drop(img);
    println!("made an {WIDTH}x{HEIGHT} PNG in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .current_dir(&root)
        .arg("run")
        .arg(root.join("workflows/upscale-frame.json"))
        .args(["--json", "--cache-dir"])
        .arg(tmp.path().join("cache"))
        .arg("--out")
        .arg(tmp.path().join("out"))
        .arg("--set")
        .arg(format!("load.path={}", input.display()))
        .output()
        .expect("run switchyard");
    let secs = started.elapsed().as_secs_f64();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    if !out.status.success() {
        println!("run failed: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let saved = tmp.path().join("out/upscaled/frame_0001_2x.png");
    let (w, h) = image::image_dimensions(&saved).expect("read the output's size");
    println!("8K 2x upscale to {w}x{h}: {secs:.1} s end to end (load, 2x model in tiles, PNG save)");
    for n in doc["runs"][0]["nodes"].as_array().into_iter().flatten() {
        println!("  {:<8} {:>7} ms", n["id"].as_str().unwrap_or("?"), n["duration_ms"]);
    }
    match doc["peak_rss_mib"].as_u64() {
        Some(mib) => println!("peak RSS: {mib} MiB (goal: under 2048 MiB)"),
        None => println!("peak RSS: not reported on this OS"),
    }
}
