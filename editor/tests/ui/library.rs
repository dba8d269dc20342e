//! The team library from the editor, against a real server: Save to library, an edit saved
//! on top of another user's change (merged), the same param changed on both sides settled
//! node by node, opening from the library, and the sync status at each step.

use std::collections::BTreeMap;

use egui_kittest::kittest::Queryable;
use serde_json::json;
use switchyard_client::client::Client;
use switchyard_client::library::PushRequest;
use switchyard_editor::work::ServerTarget;
use switchyard_server::Role;

use crate::server::start_server_as;
use crate::support::{fixture, launch, node, settle};

fn set_param(
    h: &mut egui_kittest::Harness<'static, switchyard_editor::Editor>,
    key: &str,
    param: &str,
    value: serde_json::Value,
) {
    let ed = h.state_mut();
    let id = node(ed, key);
    ed.doc.snarl[id].params.insert(param.into(), value);
    ed.commit("edit");
    h.run_steps(2);
}

#[test]
fn save_to_library_merges_other_edits_and_settles_conflicts_node_by_node() {
    let out = tempfile::tempdir().unwrap();
    let (url, token, server) = start_server_as(&out.path().join("server"), Role::Editor);
    let mut l = launch(out.path());
    l.server = Some((ServerTarget { url: url.clone(), token: token.clone(), account: None }, true));
    let editor = switchyard_editor::start(l, || {}).unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, ed: &mut switchyard_editor::Editor| ed.ui(ui), editor);
    settle(&mut h, |ed| ed.connected.is_some());
    crate::support::open_file(&mut h, &fixture("small-local.json"));
    assert_eq!(switchyard_editor::shell::library::sync_status(h.state()), "not in the library");

    // Save to library, with a message.
    switchyard_editor::shell::library::show_library(h.state_mut());
    h.state_mut().library.path = "shots/small".into();
    h.state_mut().library.message = "first".into();
    h.run_steps(2);
    h.get_by_label("Save to library").click();
    settle(&mut h, |ed| ed.status.starts_with("saved to shots/small"));
    assert_eq!(switchyard_editor::shell::library::sync_status(h.state()), "up to date");
    let other = Client::new(&url, &token);
    let id = h.state().library.origin.clone().unwrap().id;

    // Another user changes the blur; here the noise's seed: saving merges both.
    let push = |base: String, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut w = server.block_on(other.library_workflow(&id, None)).unwrap().workflow;
        edit(&mut w);
        let req = PushRequest { base, workflow: w, message: "elsewhere".into(), choices: BTreeMap::new() };
        server.block_on(other.library_push(&id, &req)).unwrap()
    };
    let base = h.state().library.origin.clone().unwrap().base;
    push(base, &|w| w["nodes"]["soft"]["params"]["sigma"] = json!(3.0));
    set_param(&mut h, "noise", "seed", json!(9));
    assert!(switchyard_editor::shell::library::sync_status(h.state()).starts_with("ahead"));
    h.get_by_label("Save to library").click();
    settle(&mut h, |ed| ed.status.starts_with("merged with the library's changes"));
    let ed = h.state();
    assert_eq!(ed.current.nodes["soft"].params["sigma"], json!(3.0), "their edit arrived");
    assert_eq!(ed.current.nodes["noise"].params["seed"], json!(9), "mine is kept");

    // The same param on both sides: a conflict, settled by picking theirs.
    let base = h.state().library.origin.clone().unwrap().base;
    push(base, &|w| w["nodes"]["noise"]["params"]["width"] = json!(128));
    set_param(&mut h, "noise", "width", json!(64));
    h.get_by_label("Save to library").click();
    settle(&mut h, |ed| !ed.library.conflicts.is_empty());
    assert_eq!(h.state().library.conflicts[0].key, "noise.params.width");
    assert!(switchyard_editor::shell::library::sync_status(h.state()).starts_with("conflict"));
    h.get_by_label("theirs: 128").click();
    h.run_steps(2);
    h.get_by_label("Save to library").click();
    settle(&mut h, |ed| ed.status.starts_with("merged with the library's changes"));
    assert_eq!(h.state().current.nodes["noise"].params["width"], json!(128));
    let head = server.block_on(other.library_workflow(&id, None)).unwrap();
    assert_eq!(head.workflow["nodes"]["noise"]["params"]["width"], 128);

    // Opening from the library's list.
    crate::support::open_file(&mut h, &fixture("small-local.json"));
    h.state_mut().library.origin = None;
    h.state_mut().library.list.clear();
    h.get_by_label("Refresh").click();
    settle(&mut h, |ed| !ed.library.list.is_empty());
    assert_eq!(h.state().library.list[0].revisions, 5, "first, theirs, mine and the merge, theirs");
    // Picking theirs for the only conflict made the head itself: no revision was added.
    h.get_by_label("shots/");
    h.get_by_label("shots/small  (5 revisions)").click();
    settle(&mut h, |ed| ed.status.starts_with("opened shots/small"));
    assert_eq!(h.state().current.nodes["noise"].params["width"], json!(128));
    assert_eq!(switchyard_editor::shell::library::sync_status(h.state()), "up to date");

    // The history, and the diff since the first revision drawn on the canvas.
    settle(&mut h, |ed| ed.library.log.len() == 5);
    let first = h.state().library.log.last().unwrap().hash.clone();
    h.get_by_label(&format!("Compare {}", &first[..8])).click();
    settle(&mut h, |ed| ed.library.compared.is_some());
    let diff = &h.state().look.diff;
    use switchyard_library::diff::Mark;
    assert_eq!(diff.get("noise").map(|d| d.0), Some(Mark::Changed));
    assert_eq!(diff.get("soft").map(|d| d.0), Some(Mark::Changed));
    assert!(diff.get("save").is_none(), "untouched nodes are not marked");
    assert!(diff["noise"].1.contains(&"~ noise.width: 96 -> 128".to_string()), "{:?}", diff["noise"].1);
    h.get_all_by_label("changed since the revision").next().expect("the mark is drawn on the node");
    h.get_by_label("Clear marks").click();
    h.run_steps(2);
    assert!(h.state().look.diff.is_empty());

    // Offline: saved to a file, the graph carries its library origin; edited with no
    // connection, it saves back later from the revision it was made from, merging.
    let file = out.path().join("offline.json");
    switchyard_editor::shell::file_actions::save_to(h.state_mut(), &file);
    h.state_mut().disconnect();
    settle(&mut h, |ed| ed.connected.is_none());
    crate::support::open_file(&mut h, &file);
    set_param(&mut h, "soft", "sigma", json!(7.0));
    switchyard_editor::shell::file_actions::save_to(h.state_mut(), &file);
    let head = server.block_on(other.library_workflow(&id, None)).unwrap().revision.hash;
    push(head, &|w| w["nodes"]["noise"]["params"]["seed"] = json!(77));
    h.state_mut().connect();
    settle(&mut h, |ed| ed.connected.is_some());
    assert_eq!(
        h.state().library.origin.as_ref().map(|o| o.path.as_str()),
        Some("shots/small"),
        "the file kept its origin"
    );
    h.get_by_label("Save to library").click();
    settle(&mut h, |ed| ed.status.starts_with("merged with the library's changes"));
    let head = server.block_on(other.library_workflow(&id, None)).unwrap();
    assert_eq!(
        (
            head.workflow["nodes"]["soft"]["params"]["sigma"].as_f64(),
            head.workflow["nodes"]["noise"]["params"]["seed"].as_i64()
        ),
        (Some(7.0), Some(77))
    );
    assert!(head.workflow["ui"].get("library_origin").is_none(), "the origin stays out of the library");
}

/// "Use template": the team's templates listed with their previews; the form holds only the
/// exposed params; running it runs that template on the server with those values.
#[test]
fn use_template_runs_a_template_with_only_its_exposed_params() {
    use base64::Engine as _;
    let out = tempfile::tempdir().unwrap();
    let (url, token, server) = start_server_as(&out.path().join("server"), Role::Publisher);
    let client = Client::new(&url, &token);
    let workflow: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("small-local.json")).unwrap()).unwrap();
    let mut png = Vec::new();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 90, 40]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    server.block_on(async {
        let made = client
            .library_create(&switchyard_client::library::CreateWorkflow {
                path: "small".into(),
                workflow,
                message: String::new(),
            })
            .await
            .unwrap();
        let release = switchyard_client::library::PublishRequest {
            name: "small".into(),
            workflow: made.summary.id,
            revision: None,
            description: "noise, softened".into(),
            preview_png_base64: Some(base64::engine::general_purpose::STANDARD.encode(&png)),
            exposed: vec![switchyard_client::library::ExposeRequest {
                key: "noise.seed".into(),
                label: Some("Seed".into()),
                min: Some(0.0),
                max: Some(100.0),
            }],
            state: None,
        };
        client.library_publish(&release).await.unwrap();
    });
    let mut l = launch(out.path());
    l.server = Some((ServerTarget { url: url.clone(), token: token.clone(), account: None }, true));
    let editor = switchyard_editor::start(l, || {}).unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size([1280.0, 900.0])
        .build_ui_state(|ui, ed: &mut switchyard_editor::Editor| ed.ui(ui), editor);
    settle(&mut h, |ed| ed.connected.is_some());
    switchyard_editor::shell::library::show_library(h.state_mut());
    h.run_steps(2);
    h.get_by_label("List templates").click();
    settle(&mut h, |ed| !ed.library.templates.list.is_empty());
    assert!(h.state().library.templates.list[0].1.is_some(), "the preview is a texture");
    h.get_by_label("Use acme/small@1").click();
    h.run_steps(2);
    h.get_by_label("Seed");
    assert!(h.query_by_label("sigma").is_none(), "only the exposed params are in the form");
    let (_, values) = h.state_mut().library.templates.using.as_mut().unwrap();
    assert_eq!(values["noise.seed"], json!(5), "the default is the revision's value");
    values.insert("noise.seed".into(), json!(42));
    h.get_by_label("▶ Run template").click();
    settle(&mut h, |ed| ed.library.templates.ran.starts_with("acme/small@1 "));
    assert!(
        h.state().library.templates.ran.starts_with("acme/small@1 succeeded"),
        "{}",
        h.state().library.templates.ran
    );
    let runs = server.block_on(client.runs(None, 10, None)).unwrap();
    assert_eq!(runs.runs[0].template.as_deref(), Some("acme/small@1"));
}
