//! "Run on server": the editor connects to a real server (in this process, on an ephemeral
//! port) with a URL and an API key; the run is submitted there, and node states and previews
//! stream back onto the canvas.

use std::path::Path;

use egui_kittest::kittest::Queryable;
use switchyard_editor::canvas::look::NodeRun;
use switchyard_editor::work::ServerTarget;
use switchyard_server::{Role, Server, ServerOptions};

use crate::support::{fixture, launch, settle};

/// A server on an ephemeral port, serving on its own runtime until the test ends.
fn start_server(data: &Path) -> (String, String, tokio::runtime::Runtime) {
    start_server_as(data, Role::Runner)
}

/// The same, with a key of `role`.
pub fn start_server_as(data: &Path, role: Role) -> (String, String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (url, token) = rt.block_on(async {
        let token = switchyard_server::create_key(data, None, "acme", role).await.unwrap();
        let opts = ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            data: data.to_path_buf(),
            database: None,
            workers: 1,
            grace_ms: 100,
            rate_per_s: 0,
            metrics_listen: None,
            catalog: None,
            farm: false,
            artifacts: None,
            comfy_frontend: None,
            comfy_templates: None,
            billing: Default::default(),
            settings: Default::default(),
        };
        let server = Server::bind(opts).await.unwrap();
        let url = format!("http://{}", server.local_addr().unwrap());
        tokio::spawn(server.run(tokio_util::sync::CancellationToken::new()));
        (url, token)
    });
    (url, token, rt)
}

#[test]
fn run_on_server_streams_node_states_and_previews_back() {
    let out = tempfile::tempdir().unwrap();
    let (url, token, _server) = start_server(&out.path().join("server"));
    let mut l = launch(out.path());
    // The key with its last digit changed (to one it does not already have).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = ServerTarget { url: url.clone(), token: format!("{}{last}", &token[..token.len() - 1]), account: None };
    l.server = Some((wrong, true));
    let editor = switchyard_editor::start(l, || {}).unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, ed: &mut switchyard_editor::Editor| ed.ui(ui), editor);
    settle(&mut h, |ed| ed.status.starts_with("local runs"));
    assert!(h.state().connected.is_none() && h.state().status.contains("401"), "{}", h.state().status);

    // The right key, through the Server window.
    h.state_mut().server.token = token;
    h.state_mut().server_window = true;
    h.run_steps(2);
    h.get_by_label("Connect").click();
    settle(&mut h, |ed| ed.connected.is_some());
    crate::support::open_file(&mut h, &fixture("small-local.json"));
    h.get_by_label("▶ Run on server").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    let ed = h.state();
    assert!(ed.status.starts_with("run finished"), "{}", ed.status);
    for key in ["noise", "soft", "save"] {
        assert!(matches!(ed.look.run_of(key), Some(NodeRun::Done(_))), "{key}: {:?}", ed.look.run_of(key));
    }
    assert_eq!(ed.look.previews.get("soft").map(|p| p.1), Some([96, 64]), "the server's preview, at source size");
    assert!(!out.path().join("soft.png").exists(), "it ran on the server, not here");
    h.get_by_label("preview of soft");

    // Disconnected, runs are local again.
    h.state_mut().disconnect();
    settle(&mut h, |ed| ed.connected.is_none());
    h.get_by_label("▶ Run");
}
