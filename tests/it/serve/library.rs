//! The team library on `switchyard serve`, through a real HTTP client: revisions, pushes
//! that merge or name their conflicts, diffs, restore, move and soft delete; templates run
//! pinned with only their exposed params; roles; and another tenant's key finds nothing.
//! On SQLite and on PostgreSQL.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Client, serve_with, workflow};

/// Keys for `tenant` with `role`, made on the server's store (`extra`: its database).
fn key(data: &std::path::Path, extra: &[&str], tenant: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--data"])
        .arg(data)
        .args(extra)
        .args(["--create-key", tenant, "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `workflow()` with `node.param` set.
fn with(base: &Value, edits: &[(&str, &str, Value)]) -> Value {
    let mut w = base.clone();
    for (node, param, value) in edits {
        w["nodes"][node]["params"][param] = value.clone();
    }
    w
}

#[test]
fn the_library_keeps_revisions_merges_pushes_and_names_conflicts() {
    library_round(None);
}

#[test]
fn the_library_keeps_revisions_merges_pushes_and_names_conflicts_on_postgres() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    library_round(Some(&db.url));
    rt.block_on(db.drop_now());
}

fn library_round(database: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let extra: Vec<&str> = database.map(|url| vec!["--database", url]).unwrap_or_default();
    let editor = key(data.path(), &extra, "acme", "editor");
    let viewer = key(data.path(), &extra, "acme", "viewer");
    let runner = key(data.path(), &extra, "acme", "runner");
    let rival = key(data.path(), &extra, "rival", "admin");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &extra);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let base = workflow();
        let (status, made) = c
            .post(
                "/v1/library/workflows",
                &editor,
                &json!({ "path": "lookdev/plates/sky", "workflow": base, "message": "first" }),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        let id = made["summary"]["id"].as_str().unwrap().to_string();
        let h1 = made["revision"]["hash"].as_str().unwrap().to_string();
        assert_eq!(h1.len(), 64);
        let (status, again) =
            c.post("/v1/library/workflows", &editor, &json!({ "path": "lookdev/plates/sky", "workflow": base })).await;
        assert_eq!((status, again["error"]["code"].as_str()), (409, Some("path-taken")));
        for (query, n) in
            [("folder=lookdev", 1), ("folder=lookdev/plates", 1), ("q=SKY", 1), ("folder=comp", 0), ("q=zzz", 0)]
        {
            let (_, list) = c.get(&format!("/v1/library/workflows?{query}"), &viewer).await;
            assert_eq!(list["workflows"].as_array().unwrap().len(), n, "{query}: {list}");
        }
        // A fast-forward push, then a layout-only one.
        let seeded = with(&base, &[("wide", "seed", json!(5))]);
        let (status, p2) = c
            .post(
                &format!("/v1/library/workflows/{id}/push"),
                &editor,
                &json!({ "base": h1, "workflow": seeded, "message": "seed 5" }),
            )
            .await;
        assert_eq!(status, 201, "{p2}");
        assert_eq!((p2["merged"].as_bool(), p2["revision"]["parents"].clone()), (Some(false), json!([h1])));
        let h2 = p2["revision"]["hash"].as_str().unwrap().to_string();
        let mut moved = seeded.clone();
        moved["ui"] = json!({ "nodes": { "wide": { "pos": [40, 80] } } });
        let (_, p3) = c
            .post(&format!("/v1/library/workflows/{id}/push"), &editor, &json!({ "base": h2, "workflow": moved }))
            .await;
        assert_eq!(p3["revision"]["layout_only"], true, "{p3}");
        let h3 = p3["revision"]["hash"].as_str().unwrap().to_string();
        let (status, same) = c
            .post(&format!("/v1/library/workflows/{id}/push"), &editor, &json!({ "base": h3, "workflow": moved }))
            .await;
        assert_eq!((status, same["unchanged"].as_bool()), (200, Some(true)), "pushing the head again makes nothing");

        // Two offline edits of h3: disjoint ones merge; the same param changed differently
        // conflicts, naming it, until a side is picked.
        let a = with(&moved, &[("wide", "width", json!(320))]);
        let b = with(&moved, &[("tall", "seed", json!(9))]);
        let clash = with(&moved, &[("wide", "width", json!(640))]);
        let (_, pa) =
            c.post(&format!("/v1/library/workflows/{id}/push"), &editor, &json!({ "base": h3, "workflow": a })).await;
        let (status, pb) = c
            .post(&format!("/v1/library/workflows/{id}/push"), &editor, &json!({ "base": h3[..12], "workflow": b }))
            .await;
        assert_eq!((status, pb["merged"].as_bool()), (201, Some(true)), "{pb}");
        assert_eq!(pb["revision"]["parents"][0], pa["revision"]["hash"], "a merge of the head and the push: {pb}");
        let (_, head) = c.get(&format!("/v1/library/workflows/{id}"), &viewer).await;
        assert_eq!(
            (
                head["workflow"]["nodes"]["wide"]["params"]["width"].as_i64(),
                head["workflow"]["nodes"]["tall"]["params"]["seed"].as_i64()
            ),
            (Some(320), Some(9)),
            "no edit lost"
        );
        let (status, refused) = c
            .post(&format!("/v1/library/workflows/{id}/push"), &editor, &json!({ "base": h3, "workflow": clash }))
            .await;
        assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("merge-conflict")), "{refused}");
        let conflict = &refused["error"]["details"]["conflicts"][0];
        assert_eq!(
            (
                conflict["key"].as_str(),
                conflict["ours"].as_i64(),
                conflict["theirs"].as_i64(),
                conflict["base"].as_i64()
            ),
            (Some("wide.params.width"), Some(640), Some(320), Some(200))
        );
        let (_, log) = c.get(&format!("/v1/library/workflows/{id}/log"), &viewer).await;
        let before = log["revisions"].as_array().unwrap().len();
        assert_eq!(before, 6, "a conflict writes nothing: {log}");
        assert_eq!(log["revisions"][1]["parents"], json!([h3]), "the merged push is kept as its own revision");
        let (status, picked) = c
            .post(
                &format!("/v1/library/workflows/{id}/push"),
                &editor,
                &json!({ "base": h3, "workflow": clash, "choices": { "wide.params.width": "ours" } }),
            )
            .await;
        assert_eq!(status, 201, "{picked}");
        let (_, head) = c.get(&format!("/v1/library/workflows/{id}"), &viewer).await;
        assert_eq!(
            (
                head["workflow"]["nodes"]["wide"]["params"]["width"].as_i64(),
                head["workflow"]["nodes"]["tall"]["params"]["seed"].as_i64()
            ),
            (Some(640), Some(9))
        );

        // The diff, the log and restore.
        let (_, d) = c.get(&format!("/v1/library/workflows/{id}/diff?from={h1}"), &viewer).await;
        let changes = d["diff"]["changes"].as_array().unwrap();
        for want in [
            json!({ "kind": "param", "node": "wide", "param": "seed", "old": null, "new": 5 }),
            json!({ "kind": "param", "node": "wide", "param": "width", "old": 200, "new": 640 }),
        ] {
            assert!(changes.contains(&want), "{want} in {d}");
        }
        let (status, restored) =
            c.post(&format!("/v1/library/workflows/{id}/restore"), &editor, &json!({ "revision": h1 })).await;
        assert_eq!((status, restored["revision"]["hash"].as_str()), (201, Some(h1.as_str())), "{restored}");
        let (_, log) = c.get(&format!("/v1/library/workflows/{id}/log"), &viewer).await;
        assert_eq!(log["revisions"].as_array().unwrap().len(), 9);
        assert_eq!(log["revisions"][0]["message"], format!("restore {}", &h1[..12]));
        let (_, old) = c.get(&format!("/v1/library/workflows/{id}?revision={h2}"), &viewer).await;
        assert_eq!(old["workflow"]["nodes"]["wide"]["params"]["seed"], 5, "any revision reads back");

        // Move, delete, undelete.
        let (_, other) =
            c.post("/v1/library/workflows", &editor, &json!({ "path": "comp/final", "workflow": base })).await;
        let other_id = other["summary"]["id"].as_str().unwrap();
        let (status, _) =
            c.post(&format!("/v1/library/workflows/{id}/move"), &editor, &json!({ "path": "comp/final" })).await;
        assert_eq!(status, 409, "a live workflow has that path");
        let (status, m) =
            c.post(&format!("/v1/library/workflows/{id}/move"), &editor, &json!({ "path": "lookdev/sky final" })).await;
        assert_eq!((status, m["path"].as_str()), (200, Some("lookdev/sky final")), "{m}");
        let (status, _) =
            c.send(Method::DELETE, &format!("/v1/library/workflows/{other_id}"), Some(&editor), None).await;
        assert_eq!(status, 200);
        let (_, live) = c.get("/v1/library/workflows", &viewer).await;
        assert_eq!(live["workflows"].as_array().unwrap().len(), 1);
        let (_, gone) = c.get("/v1/library/workflows?deleted=true", &viewer).await;
        assert_eq!(gone["workflows"][0]["id"], other_id);
        let (status, _) = c
            .post(&format!("/v1/library/workflows/{other_id}/push"), &editor, &json!({ "base": h1, "workflow": base }))
            .await;
        assert_eq!(status, 409, "a deleted workflow takes no push");
        let (status, back) = c.post(&format!("/v1/library/workflows/{other_id}/undelete"), &editor, &json!({})).await;
        assert_eq!((status, back["deleted_at_ms"].clone()), (200, Value::Null), "{back}");

        // Roles: a viewer and a runner read but change nothing.
        for k in [&viewer, &runner] {
            let (status, _) =
                c.post(&format!("/v1/library/workflows/{id}/push"), k, &json!({ "base": h1, "workflow": base })).await;
            assert_eq!(status, 403);
            assert_eq!(c.post("/v1/library/workflows", k, &json!({ "path": "x", "workflow": base })).await.0, 403);
        }

        // Bad input: specific errors, nothing written.
        let push = format!("/v1/library/workflows/{id}/push");
        let bad: [(&str, Value, &str); 4] = [
            ("/v1/library/workflows", json!({ "path": "../etc", "workflow": base }), "bad-path"),
            ("/v1/library/workflows", json!({ "path": "a//b", "workflow": base }), "bad-path"),
            ("/v1/library/workflows", json!({ "path": "ok", "workflow": { "format": "x" } }), "bad-workflow"),
            (&push, json!({ "base": "nothex!!", "workflow": base }), "bad-revision"),
        ];
        for (path, body, code) in bad {
            let (status, reply) = c.post(path, &editor, &body).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{path} {body}: {reply}");
        }

        // Another tenant's key finds nothing, on every route.
        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/library/workflows/{id}"), None),
            (Method::GET, format!("/v1/library/workflows/{id}/log"), None),
            (Method::GET, format!("/v1/library/workflows/{id}/diff?from={h1}"), None),
            (Method::POST, format!("/v1/library/workflows/{id}/push"), Some(json!({ "base": h1, "workflow": base }))),
            (Method::POST, format!("/v1/library/workflows/{id}/restore"), Some(json!({ "revision": h1 }))),
            (Method::POST, format!("/v1/library/workflows/{id}/move"), Some(json!({ "path": "stolen" }))),
            (Method::DELETE, format!("/v1/library/workflows/{id}"), None),
            (Method::POST, format!("/v1/library/workflows/{id}/undelete"), Some(json!({}))),
        ];
        for (method, path, body) in routes {
            let (status, reply) =
                c.send(method.clone(), &path, Some(&rival), body.map(|b| b.to_string().into_bytes())).await;
            assert_eq!(status, 404, "{method} {path}: {reply}");
        }
        let (_, list) = c.get("/v1/library/workflows", &rival).await;
        assert_eq!(list["workflows"], json!([]));
        let (status, _) =
            c.post("/v1/library/workflows", &rival, &json!({ "path": "lookdev/sky final", "workflow": base })).await;
        assert_eq!(status, 201, "paths are per team");
        let (_, head) = c.get(&format!("/v1/library/workflows/{id}"), &viewer).await;
        assert_eq!(head["summary"]["path"], "lookdev/sky final", "acme's workflow is untouched");
    });
}

fn png() -> String {
    use base64::Engine as _;
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 90, 40]))
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_template_runs_pinned_with_only_its_exposed_params() {
    let data = tempfile::tempdir().unwrap();
    let editor = key(data.path(), &[], "acme", "editor");
    let publisher = key(data.path(), &[], "acme", "publisher");
    let runner = key(data.path(), &[], "acme", "runner");
    let rival = key(data.path(), &[], "rival", "admin");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &[]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (_, made) = c.post("/v1/library/workflows", &editor, &json!({ "path": "sizes", "workflow": workflow() })).await;
        let id = made["summary"]["id"].as_str().unwrap().to_string();
        let h1 = made["revision"]["hash"].as_str().unwrap().to_string();
        let release = json!({ "name": "sizes", "workflow": id, "description": "noise sheet", "preview_png_base64": png(),
            "exposed": [{ "key": "tall.seed", "label": "Seed", "min": 0, "max": 100 }, { "key": "half.width" }] });
        assert_eq!(c.post("/v1/library/templates", &editor, &release).await.0, 403, "an editor does not publish");
        let (status, v1) = c.post("/v1/library/templates", &publisher, &release).await;
        assert_eq!(status, 201, "{v1}");
        assert_eq!((v1["reference"].as_str(), v1["revision"].as_str(), v1["state"].as_str()), (Some("acme/sizes@1"), Some(h1.as_str()), Some("published")));
        assert_eq!(v1["exposed"][0], json!({ "key": "tall.seed", "label": "Seed", "kind": "seed", "min": 0.0, "max": 100.0, "default": 3 }));
        assert_eq!((v1["exposed"][1]["kind"].as_str(), v1["exposed"][1]["default"].as_i64()), (Some("int"), Some(100)));
        let bytes = c.http.get(format!("{}/v1/library/templates/sizes/1/preview", c.url)).bearer_auth(&runner).send().await.unwrap().bytes().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "the preview comes back as a PNG");

        // A run names the template; only exposed params, within range.
        let (status, run) = c.post("/v1/runs", &runner, &json!({ "template": "acme/sizes@1", "set": ["tall.seed=7"] })).await;
        assert_eq!(status, 201, "{run}");
        assert_eq!((run["template"].as_str(), run["revision"].as_str()), (Some("acme/sizes@1"), Some(h1.as_str())));
        let done = c.wait_for(&runner, run["id"].as_str().unwrap(), &["succeeded", "failed"]).await;
        assert_eq!((done["state"].as_str(), done["revision"].as_str()), (Some("succeeded"), Some(h1.as_str())), "{done}");
        for (set, code) in [("wide.seed=1", "not-exposed"), ("tall.seed=500", "out-of-range"), ("tall.seed=many", "bad-override")] {
            let (status, reply) = c.post("/v1/runs", &runner, &json!({ "template": "acme/sizes@1", "set": [set] })).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{set}: {reply}");
        }

        // A new revision released as v2 is @latest; v1, deprecated, still runs pinned with a warning.
        let changed = with(&workflow(), &[("wide", "seed", json!(11))]);
        let (_, p) = c.post(&format!("/v1/library/workflows/{id}/push"), &editor, &json!({ "base": h1, "workflow": changed })).await;
        let h2 = p["revision"]["hash"].as_str().unwrap().to_string();
        let (_, v2) = c.post("/v1/library/templates", &publisher, &json!({ "name": "sizes", "workflow": id })).await;
        assert_eq!((v2["version"].as_i64(), v2["revision"].as_str()), (Some(2), Some(h2.as_str())), "{v2}");
        let (status, dep) = c.post("/v1/library/templates/sizes/1/state", &publisher, &json!({ "state": "deprecated" })).await;
        assert_eq!((status, dep["state"].as_str()), (200, Some("deprecated")), "{dep}");
        let (_, latest) = c.post("/v1/runs", &runner, &json!({ "template": "acme/sizes@latest" })).await;
        assert_eq!((latest["template"].as_str(), latest["revision"].as_str()), (Some("acme/sizes@2"), Some(h2.as_str())), "{latest}");
        let (status, old) = c.post("/v1/runs", &runner, &json!({ "template": "acme/sizes@1" })).await;
        assert_eq!(status, 201);
        assert!(old["warnings"][0].as_str().unwrap().contains("deprecated"), "{old}");
        let (_, list) = c.get("/v1/library/templates", &runner).await;
        assert_eq!(list["templates"].as_array().unwrap().len(), 2);

        // Another team sees none of it and cannot run it.
        let (_, theirs) = c.get("/v1/library/templates", &rival).await;
        assert_eq!(theirs["templates"], json!([]));
        for path in ["/v1/library/templates/sizes/1", "/v1/library/templates/sizes/latest", "/v1/library/templates/sizes/1/preview"] {
            assert_eq!(c.get(path, &rival).await.0, 404, "{path}");
        }
        let (status, reply) = c.post("/v1/runs", &rival, &json!({ "template": "acme/sizes@1" })).await;
        assert_eq!(status, 404, "{reply}");
        let (status, _) = c.post("/v1/library/templates/sizes/1/state", &rival, &json!({ "state": "published" })).await;
        assert_eq!(status, 404);
        let (status, _) = c.post("/v1/library/templates", &rival, &json!({ "name": "stolen", "workflow": id })).await;
        assert_eq!(status, 404, "another team's workflow cannot be released");
    });
}

/// `switchyard library` on two devices of one team, each with its own local copy: edits
/// made offline sync later; disjoint edits merge, the same param edited on both conflicts
/// (naming it, nothing written, the local edit kept) until a side is picked; then a
/// released template runs locally, pinned, with only its exposed params.
#[test]
fn two_devices_edit_offline_and_sync_without_losing_an_edit() {
    let data = tempfile::tempdir().unwrap();
    let editor = key(data.path(), &[], "acme", "editor");
    let publisher = key(data.path(), &[], "acme", "publisher");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &[]);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cli = |device: &std::path::Path, token: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("library")
            .args(args)
            .args(["--server", &server.url])
            .env("SWITCHYARD_LIBRARY", device)
            .env("SWITCHYARD_TOKEN", token)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let slug: String = server.url.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let work = |device: &std::path::Path| device.join(&slug).join("work/shots/sky.json");
    let read = |device: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(work(device)).unwrap()).unwrap()
    };
    let edit = |device: &std::path::Path, node: &str, param: &str, value: Value| {
        let mut w = read(device);
        w["nodes"][node]["params"][param] = value;
        std::fs::write(work(device), serde_json::to_string_pretty(&w).unwrap()).unwrap();
    };

    // Device A makes the workflow offline, then pushes it; B pulls it.
    std::fs::create_dir_all(work(a.path()).parent().unwrap()).unwrap();
    std::fs::write(work(a.path()), workflow().to_string()).unwrap();
    assert_eq!(cli(a.path(), &editor, &["status"]).1.trim(), "new          shots/sky");
    let (code, out) = cli(a.path(), &editor, &["push", "-m", "first"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = cli(b.path(), &editor, &["pull"]);
    assert_eq!((code, out.trim()), (Some(0), "pulled  shots/sky"));

    // Disjoint offline edits: both land, on both devices.
    edit(a.path(), "wide", "seed", json!(5));
    edit(b.path(), "tall", "seed", json!(9));
    assert_eq!(cli(a.path(), &editor, &["push", "-m", "a"]).0, Some(0));
    assert_eq!(cli(b.path(), &editor, &["status"]).1.trim(), "diverged     shots/sky");
    let (code, out) = cli(b.path(), &editor, &["push", "-m", "b"]);
    assert_eq!((code, out.trim()), (Some(0), "merged  shots/sky"));
    assert_eq!(cli(a.path(), &editor, &["pull"]).0, Some(0));
    for device in [a.path(), b.path()] {
        let w = read(device);
        assert_eq!(
            (w["nodes"]["wide"]["params"]["seed"].as_i64(), w["nodes"]["tall"]["params"]["seed"].as_i64()),
            (Some(5), Some(9))
        );
        assert_eq!(cli(device, &editor, &["status"]).1.trim(), "up_to_date   shots/sky");
    }

    // The same param on both: a conflict that names it; B's edit is kept until B picks.
    edit(a.path(), "wide", "width", json!(300));
    edit(b.path(), "wide", "width", json!(500));
    assert_eq!(cli(a.path(), &editor, &["push"]).0, Some(0));
    let (code, out) = cli(b.path(), &editor, &["push"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("wide.params.width: base 200, ours 500, theirs 300"), "{out}");
    assert_eq!(read(b.path())["nodes"]["wide"]["params"]["width"], 500, "the local edit is kept");
    let (code, out) = cli(b.path(), &editor, &["push", "shots/sky", "--pick", "wide.params.width=ours"]);
    assert_eq!((code, out.trim()), (Some(0), "merged  shots/sky"));
    assert_eq!(cli(a.path(), &editor, &["pull"]).0, Some(0));
    assert_eq!(read(a.path())["nodes"]["wide"]["params"]["width"], 500);
    let (_, log) = cli(a.path(), &editor, &["log", "shots/sky"]);
    assert_eq!(log.lines().count(), 7, "{log}");
    edit(a.path(), "half", "width", json!(64));
    let (_, diff) = cli(a.path(), &editor, &["diff", "shots/sky"]);
    assert_eq!(diff.trim(), "~ half.width: 100 -> 64", "the local edits");
    // A working file deleted here is missing, and a pull brings it back.
    std::fs::remove_file(work(b.path())).unwrap();
    assert_eq!(cli(b.path(), &editor, &["status"]).1.trim(), "missing      shots/sky");
    assert_eq!(cli(b.path(), &editor, &["pull"]).0, Some(0));
    assert_eq!(read(b.path())["nodes"]["wide"]["params"]["width"], 500);

    // A released template runs on a device, pinned, with only its exposed params.
    let (code, out) =
        cli(a.path(), &publisher, &["publish", "shots/sky", "--name", "sky", "--expose", "tall.seed=Seed"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("released  acme/sky@1"), "{out}");
    assert_eq!(cli(a.path(), &editor, &["pull"]).0, Some(0));
    let run = |set: &str| {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["run", "acme/sky@1", "--json", "--set", set, "--out"])
            .arg(a.path().join("out"))
            .env("SWITCHYARD_LIBRARY", a.path())
            .env("SWITCHYARD_SERVER", &server.url)
            .output()
            .unwrap()
    };
    let ok = run("tall.seed=4");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let refused = run("wide.seed=4");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not let runs set wide.seed; it exposes tall.seed"));
}

/// ComfyUI's frontend saves a workflow as user data; each save is also a library revision
/// at `comfy/NAME` (its document kept verbatim), with history and diff; a workflow using
/// nodes Switchyard lacks still lands, saying why it cannot run; moves and deletes follow.
#[test]
fn comfyui_saves_land_in_the_library_with_their_history() {
    let data = tempfile::tempdir().unwrap();
    let editor = key(data.path(), &[], "acme", "editor");
    let runner = key(data.path(), &[], "acme", "runner");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &[]);
    let doc = |width: i64, kind: &str| {
        json!({ "version": 0.4, "last_node_id": 2, "last_link_id": 1,
            "nodes": [
                { "id": 1, "type": kind, "mode": 0, "pos": [0, 0], "widgets_values": [width, 64, 1, 0],
                  "outputs": [{ "name": "IMAGE", "type": "IMAGE", "links": [1] }] },
                { "id": 2, "type": "SaveImage", "mode": 0, "pos": [300, 0], "widgets_values": ["shot"],
                  "inputs": [{ "name": "images", "type": "IMAGE", "link": 1 }] }
            ],
            "links": [[1, 1, 0, 2, 0, "IMAGE"]] })
    };
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let save = |key: String, name: &'static str, body: Value| {
            let c = &c;
            async move {
                let path = format!("/api/userdata/workflows%2F{name}?overwrite=true");
                c.send(Method::POST, &path, Some(&key), Some(body.to_string().into_bytes())).await
            }
        };
        assert_eq!(save(editor.clone(), "shot%20(2).json", doc(64, "EmptyImage")).await.0, 200);
        assert_eq!(save(editor.clone(), "shot%20(2).json", doc(128, "EmptyImage")).await.0, 200);
        let (_, list) = c.get("/v1/library/workflows?folder=comfy", &editor).await;
        assert_eq!(list["workflows"][0]["path"], "comfy/shot (2)", "{list}");
        assert_eq!(list["workflows"][0]["revisions"], 2, "each save is a revision");
        let id = list["workflows"][0]["id"].as_str().unwrap().to_string();
        let (_, log) = c.get(&format!("/v1/library/workflows/{id}/log"), &editor).await;
        let first = log["revisions"][1]["hash"].as_str().unwrap();
        let (_, d) = c.get(&format!("/v1/library/workflows/{id}/diff?from={first}"), &editor).await;
        let params: Vec<&Value> =
            d["diff"]["changes"].as_array().unwrap().iter().filter(|c| c["kind"] == "param").collect();
        assert_eq!((params[0]["old"].as_i64(), params[0]["new"].as_i64()), (Some(64), Some(128)), "{d}");
        let (_, head) = c.get(&format!("/v1/library/workflows/{id}"), &editor).await;
        assert_eq!(head["workflow"]["ui"]["comfy_workflow"], doc(128, "EmptyImage"), "the document, verbatim");

        // A workflow of nodes Switchyard lacks still lands, and says why it cannot run.
        assert_eq!(save(editor.clone(), "sampler.json", doc(64, "KSampler")).await.0, 200);
        let (_, list) = c.get("/v1/library/workflows?q=sampler", &editor).await;
        let (_, kept) =
            c.get(&format!("/v1/library/workflows/{}", list["workflows"][0]["id"].as_str().unwrap()), &editor).await;
        assert!(kept["workflow"]["description"].as_str().unwrap().contains("KSampler"), "{kept}");

        // A runner saves user data; the library, which it may not change, is untouched.
        assert_eq!(save(runner.clone(), "runner.json", doc(64, "EmptyImage")).await.0, 200);
        let (_, list) = c.get("/v1/library/workflows?q=runner", &editor).await;
        assert_eq!(list["workflows"], json!([]));

        // A move and a delete follow.
        let (status, _) = c
            .send(
                Method::POST,
                "/api/userdata/workflows%2Fshot%20(2).json/move/workflows%2Ffinal.json",
                Some(&editor),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let (_, head) = c.get(&format!("/v1/library/workflows/{id}"), &editor).await;
        assert_eq!(head["summary"]["path"], "comfy/final");
        let (status, _) = c.send(Method::DELETE, "/api/userdata/workflows%2Ffinal.json", Some(&editor), None).await;
        assert_eq!(status, 204);
        let (_, gone) = c.get("/v1/library/workflows?deleted=true", &editor).await;
        assert_eq!(gone["workflows"][0]["id"], id.as_str(), "deleted, and restorable");
    });
}

/// A template records the local models it needs with their files' hashes; a machine that
/// lacks one (or has another version) says so before running anything.
#[test]
fn a_machine_that_lacks_a_templates_model_says_so_before_running() {
    let data = tempfile::tempdir().unwrap();
    let publisher = key(data.path(), &[], "acme", "publisher");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &[]);
    let device = tempfile::tempdir().unwrap();
    let upscale = json!({ "format": "switchyard.workflow", "version": 1, "nodes": {
        "noise": { "type": "image.noise", "params": { "width": 32, "height": 32 } },
        "up": { "type": "onnx.image", "params": { "model": "upscale2x" }, "inputs": { "image": "noise.image" } } } });
    let manifest = std::fs::read_to_string(crate::spend::root().join("models/upscale2x.toml")).unwrap();
    let sha = manifest.lines().find_map(|l| l.strip_prefix("sha256 = \"")).unwrap().trim_end_matches('"').to_string();
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (_, made) =
            c.post("/v1/library/workflows", &publisher, &json!({ "path": "up", "workflow": upscale })).await;
        let (_, t) = c
            .post("/v1/library/templates", &publisher, &json!({ "name": "up", "workflow": made["summary"]["id"] }))
            .await;
        assert_eq!(
            t["needs"],
            json!({ "models": [{ "node": "up", "model": "upscale2x", "manifest_hash": sha }], "capabilities": [] })
        );
    });
    let cmd = |args: &[&str], models: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(args)
            .env("SWITCHYARD_LIBRARY", device.path())
            .env("SWITCHYARD_SERVER", &server.url)
            .env("SWITCHYARD_TOKEN", &publisher)
            .env("SWITCHYARD_MODELS", models)
            .output()
            .unwrap()
    };
    let empty = tempfile::tempdir().unwrap();
    assert!(cmd(&["library", "pull"], empty.path()).status.success());
    let out = device.path().join("out");
    let lacking = cmd(&["run", "acme/up@1", "--out", out.to_str().unwrap()], empty.path());
    assert_eq!(lacking.status.code(), Some(2));
    let err = String::from_utf8_lossy(&lacking.stderr);
    assert!(err.contains("acme/up@1 needs what this machine lacks: model upscale2x (node up) is not in"), "{err}");
    assert!(!out.exists(), "nothing ran");
}
