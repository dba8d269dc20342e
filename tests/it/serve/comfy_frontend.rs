//! ComfyUI's own web frontend (PyPI's comfyui-frontend-package) served by `switchyard serve
//! --comfy-frontend`, driven in headless Chromium by Playwright (`tests/browser/`): sign in,
//! find Switchyard's nodes, open a Switchyard template, wire, Run, see the output, save and
//! find the workflow again after a reload.

use std::process::Command;

use super::support::{create_key, serve_with};

#[test]
fn comfyuis_frontend_runs_a_switchyard_graph_in_a_real_browser() {
    let root = crate::spend::root();
    let frontend = root.join("third_party/comfy-frontend/comfyui_frontend_package/static");
    let driver = root.join("third_party/playwright/node_modules/playwright-core");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        frontend.join("index.html").is_file() && driver.is_dir() && std::path::Path::new(&chromium).exists(),
        "the browser test needs ComfyUI's frontend, playwright-core and Chromium: run scripts/setup"
    );
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme", "runner");
    let (frontend, templates) = (frontend.display().to_string(), root.join("workflows").display().to_string());
    let extra = ["--comfy-frontend", &frontend, "--comfy-templates", &templates];
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), dir.path(), &extra);
    let out = dir.path().join("screens");
    std::fs::create_dir_all(&out).unwrap();
    let run = Command::new("node")
        .arg(root.join("tests/browser/comfy_frontend.mjs"))
        .args([&server.url, &key])
        .arg(&out)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the browser steps failed (screens in {}):\n{stdout}\n{stderr}", out.display());
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok: ")).count(), 11, "{stdout}");
    assert!(out.join("comfy-frontend.png").is_file());
}
