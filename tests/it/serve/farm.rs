//! The server as the render farm's front door (`serve --database … --farm`), with real
//! processes: a tenant uploads frames and submits a billed batch over HTTP; three
//! `switchyard worker`s run it from the same PostgreSQL; its task events and the workers'
//! previews reach the tenant's `/v1/events` stream (and no other tenant's); its files are listed and downloaded; another
//! tenant's key finds nothing; the tenant's own wallet pays each paid call once.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::{Client, serve_with};

const FRAMES: usize = 12;

#[test]
fn the_server_is_the_farms_front_door_for_its_tenants() {
    use futures::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let paid = crate::spend::Farm::on_postgres();
    let url = paid.ledger();
    let data = paid.dir.path().join("srv");
    let key_on = |tenant: &str, role: &str| paid.server_key(&data, tenant, role);
    // Rival's key may do everything in its own tenant, and finds nothing of acme's.
    let (acme, rival) = (key_on("acme", "runner"), key_on("rival", "admin"));
    let mut grant = paid.cmd();
    grant.args(["credits", "--ledger", &url, "--account", "acme/studio", "grant", "--plan", "pro"]);
    assert!(grant.output().unwrap().status.success());
    let server = serve_with(paid.cmd(), &data, &["--database", &url, "--farm"]);
    let ws = |key: &str| {
        let url = format!("{}/v1/events?previews=true", server.url.replacen("http", "ws", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let rt = crate::support::runtime();
    let mut workers: Vec<Child> = Vec::new();
    rt.block_on(async {
        let c = Client::new(&server.url);
        let (mut acme_events, _) = ws(&acme).await.expect("acme's stream");
        let (mut rival_events, _) = ws(&rival).await.expect("rival's stream");
        let mut files = Vec::new();
        for i in 0..FRAMES {
            let mut png = Vec::new();
            let img = image::RgbImage::from_fn(20, 12, |x, y| image::Rgb([(x * 11 + i as u32) as u8, (y * 7) as u8, 9]));
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            let resp = c.http.post(format!("{}/v1/uploads", c.url)).bearer_auth(&acme).header("content-type", "image/png");
            let reply: Value = resp.body(png).send().await.unwrap().json().await.unwrap();
            files.push(reply["path"].as_str().unwrap().to_string());
        }
        let workflow = json!({ "format": "switchyard.workflow", "version": 1, "name": "cut out frames",
            "nodes": {
                "load": { "type": "image.load", "params": { "path": files[0] } },
                "cutout": { "type": "cloud.remove_background", "params": { "provider": "recraft:remove-background" },
                    "inputs": { "image": "load.image" } },
                "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "cutout.image" } }
            } });
        let names: Vec<String> = (0..FRAMES).map(|i| format!("f{i:02}")).collect();
        let body = json!({ "workflow": workflow, "files": files, "names": names, "bind": "load.path", "chunk": 4,
            "account": "studio" });

        // Refusals, each specific, and nothing queued by them.
        let refusals = [
            (json!({ "workflow": workflow, "files": files, "bind": "load.path" }), 400, "makes paid calls"),
            (json!({ "workflow": workflow, "files": ["nope.png"], "bind": "load.path", "account": "studio" }), 400, "no upload"),
            (json!({ "workflow": workflow, "files": files, "bind": "load.path", "chunk": 0, "account": "studio" }), 400, "chunk"),
            (json!({ "workflow": workflow, "files": files, "bind": "load.path", "zzz": 1 }), 400, "unknown field"),
            (json!({ "workflow": workflow, "files": files, "names": ["a"], "bind": "load.path", "account": "studio" }), 400, "1 names for 12 frames"),
        ];
        for (bad, status, says) in refusals {
            let (got, reply) = c.post("/v1/farm/runs", &acme, &bad).await;
            assert_eq!(got, status, "{reply}");
            assert!(reply.to_string().contains(says), "{says}: {reply}");
        }
        let (status, reply) = c.post("/v1/farm/runs", &rival, &body).await;
        assert_eq!(status, 400, "rival has none of acme's uploads: {reply}");
        // A farm run of a template sets only the params it exposes.
        let publisher = key_on("acme", "publisher");
        let (_, made) = c.post("/v1/library/workflows", &publisher, &json!({ "path": "cut", "workflow": workflow })).await;
        let (status, t) = c.post("/v1/library/templates", &publisher, &json!({ "name": "cut", "workflow": made["summary"]["id"],
            "exposed": [{ "key": "save.path" }] })).await;
        assert_eq!(status, 201, "{t}");
        let from = |template: &str, set: &[&str]| json!({ "template": template, "set": set, "files": files,
            "bind": "load.path", "account": "studio" });
        let template_refusals = [
            (from("acme/cut@1", &["cutout.provider=fal:x"]), 400, "not-exposed"),
            (from("acme/cut@9", &[]), 404, "not-found"),
            (from("rival/cut@1", &[]), 404, "not-found"),
            (json!({ "template": "acme/cut@1", "workflow": workflow, "files": files, "bind": "load.path" }), 400, "not both"),
        ];
        for (bad, status, says) in template_refusals {
            let (got, reply) = c.post("/v1/farm/runs", &acme, &bad).await;
            assert_eq!(got, status, "{reply}");
            assert!(reply.to_string().contains(says), "{says}: {reply}");
        }

        let (status, run) = c.post("/v1/farm/runs", &acme, &body).await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        assert_eq!((run["frames"].as_u64(), run["state"].as_str()), (Some(FRAMES as u64), Some("queued")), "{run}");
        assert_eq!(run["account"], "acme/studio");
        assert_eq!(run["tasks"].as_array().unwrap().len(), 3);
        for path in [format!("/v1/farm/runs/{id}"), format!("/v1/farm/runs/{id}/files")] {
            assert_eq!(c.get(&path, &rival).await.0, 404, "{path} with another tenant's key");
        }
        for action in ["cancel", "pause", "resume", "priority"] {
            let (status, _) = c.post(&format!("/v1/farm/runs/{id}/{action}"), &rival, &json!({ "priority": 1 })).await;
            assert_eq!(status, 404, "{action} with another tenant's key");
        }
        let (_, paused) = c.post(&format!("/v1/farm/runs/{id}/pause"), &acme, &json!({})).await;
        assert_eq!(paused["state"], "paused", "{paused}");
        let (status, _) = c.post(&format!("/v1/farm/runs/{id}/priority"), &acme, &json!({ "priority": 7 })).await;
        assert_eq!(status, 403, "a runner key may not reprioritise");
        let (_, resumed) = c.post(&format!("/v1/farm/runs/{id}/resume"), &acme, &json!({})).await;
        assert_eq!(resumed["state"], "queued", "{resumed}");

        workers = (0..3)
            .map(|i| {
                paid.cmd()
                    .args(["worker", "--database", &url, "--id", &format!("w{i}"), "--lease-ms", "3000"])
                    .env("XDG_CACHE_HOME", paid.dir.path().join("farm-cache"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        let done = loop {
            let (_, now) = c.get(&format!("/v1/farm/runs/{id}"), &acme).await;
            if now["state"] != "queued" && now["state"] != "running" {
                break now;
            }
            assert!(Instant::now() < deadline, "the farm run did not finish: {now}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(done["state"], "done", "{done}");
        let (_, page) = c.get("/v1/farm/runs?limit=10", &acme).await;
        assert_eq!(page["runs"].as_array().map(Vec::len), Some(1), "{page}");
        assert_eq!((page["runs"][0]["id"].as_str(), page["runs"][0]["state"].as_str()), (Some(id.as_str()), Some("done")));
        assert_eq!((page["runs"][0]["frames"].as_i64(), &page["runs"][0]["counts"]), (Some(12), &json!({ "done": 3 })));
        let (_, theirs) = c.get("/v1/farm/runs", &rival).await;
        assert_eq!(theirs["runs"], json!([]), "rival lists none of acme's farm runs");
        assert_eq!(c.get("/v1/farm/runs?bogus=1", &acme).await.0, 400);

        let (mut done_tasks, mut previews) = (std::collections::BTreeSet::new(), 0);
        while done_tasks.len() < 3 || previews == 0 {
            let msg = tokio::time::timeout(Duration::from_secs(30), acme_events.next()).await.unwrap().unwrap().unwrap();
            let Message::Text(text) = msg else { continue };
            let event: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(event["run"], id.as_str(), "{event}");
            if event["kind"] == "task" && event["event"]["state"] == "done" {
                done_tasks.insert(event["event"]["task"].as_i64().unwrap());
            }
            if event["kind"] == "preview" {
                use base64::Engine as _;
                let png = base64::engine::general_purpose::STANDARD.decode(event["event"]["data"].as_str().unwrap());
                assert!(png.unwrap().starts_with(b"\x89PNG"), "a worker's preview, as a PNG: {event}");
                assert_eq!((event["event"]["source_width"].as_u64(), event["event"]["source_height"].as_u64()), (Some(20), Some(12)));
                previews += 1;
            }
        }
        let quiet = tokio::time::timeout(Duration::from_millis(300), rival_events.next()).await;
        assert!(quiet.is_err(), "rival's stream carries none of acme's farm events or previews: {quiet:?}");

        let (status, listed) = c.get(&format!("/v1/farm/runs/{id}/files"), &acme).await;
        assert_eq!(status, 200);
        let listed = listed["files"].as_array().unwrap().clone();
        let listed_names: Vec<&str> = listed.iter().map(|f| f["name"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..FRAMES).map(|i| format!("f{i:02}.png")).collect();
        assert_eq!(listed_names, want, "every frame once, by the names given");
        let first = c.http.get(format!("{}{}", c.url, listed[0]["url"].as_str().unwrap())).bearer_auth(&acme);
        let bytes = first.send().await.unwrap().bytes().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG comes back");
        let other = c.http.get(format!("{}{}", c.url, listed[0]["url"].as_str().unwrap())).bearer_auth(&rival);
        assert_eq!(other.send().await.unwrap().status().as_u16(), 404);
    });
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let mut holds = paid.cmd();
    holds.args(["credits", "--ledger", &url, "--account", "acme/studio", "holds", "--all", "--json"]);
    let holds: Vec<Value> = serde_json::from_slice(&holds.output().unwrap().stdout).unwrap();
    let posted = holds.iter().filter(|h| h["kind"] == "call" && h["state"] == "posted").count();
    assert_eq!(posted, FRAMES, "one charge per frame's paid call: {holds:#?}");
    assert!(holds.iter().all(|h| h["state"] != "pending"), "no hold stays pending");
    assert_eq!(paid.mock.requests_to("recraft.remove_background").len(), FRAMES);
}

/// A local S3-compatible server (moto, installed by `scripts/setup`) on a free port.
struct S3 {
    child: Child,
    endpoint: String,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    fn start() -> Self {
        let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("third_party/moto/bin/moto_server");
        assert!(bin.exists(), "no {}; run `bash scripts/setup`, which installs it", bin.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, endpoint: format!("http://127.0.0.1:{port}") }
    }

    /// Sets the variables the AWS client reads to reach this server.
    fn env(&self, cmd: &mut std::process::Command) {
        cmd.env("AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
    }
}

/// Workers with no shared folder for outputs keep what they write in S3-compatible object
/// storage by content hash (one isolated worker passes the store to its task processes); the
/// server lists and serves a farm run's files from there, after the run's folder is gone.
#[test]
fn farm_files_are_kept_in_object_storage_and_served_from_it() {
    let s3 = S3::start();
    let rt = crate::support::runtime();
    rt.block_on(async {
        let made = reqwest::Client::new().put(format!("{}/frames", s3.endpoint)).send().await.unwrap();
        assert!(made.status().is_success(), "the bucket: {}", made.status());
    });
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("srv");
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let key = std::process::Command::new(bin)
        .args(["serve", "--database", &db.url, "--data"])
        .arg(&data)
        .args(["--create-key", "acme", "--role", "runner"])
        .output()
        .unwrap();
    let key = String::from_utf8(key.stdout).unwrap().trim().to_string();
    let store = "s3://frames/farm";
    let mut cmd = std::process::Command::new(bin);
    s3.env(&mut cmd);
    let server = serve_with(cmd, &data, &["--database", &db.url, "--farm", "--artifacts", store]);
    let mut workers: Vec<Child> = ["w1", "w2"]
        .iter()
        .map(|id| {
            let mut cmd = std::process::Command::new(bin);
            s3.env(&mut cmd);
            cmd.args(["worker", "--database", &db.url, "--id", id, "--artifacts", store]);
            if *id == "w2" {
                cmd.arg("--isolate");
            }
            cmd.env("XDG_CACHE_HOME", dir.path().join(format!("cache-{id}")));
            cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
        })
        .collect();
    rt.block_on(async {
        let c = Client::new(&server.url);
        let mut files = Vec::new();
        for i in 0..6u32 {
            let mut png = Vec::new();
            let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([(x * 13 + i) as u8, (y * 3) as u8, 50]));
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            let resp = c.http.post(format!("{}/v1/uploads", c.url)).bearer_auth(&key).header("content-type", "image/png");
            let reply: Value = resp.body(png).send().await.unwrap().json().await.unwrap();
            files.push(reply["path"].as_str().unwrap().to_string());
        }
        let workflow = json!({ "format": "switchyard.workflow", "version": 1, "name": "blur",
            "nodes": {
                "load": { "type": "image.load", "params": { "path": files[0] } },
                "blur": { "type": "image.blur", "params": { "sigma": 1.5 }, "inputs": { "image": "load.image" } },
                "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "blur.image" } }
            } });
        let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
        let body = json!({ "workflow": workflow, "files": files, "names": names, "bind": "load.path", "chunk": 2 });
        let (status, run) = c.post("/v1/farm/runs", &key, &body).await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, now) = c.get(&format!("/v1/farm/runs/{id}"), &key).await;
            if now["state"] == "done" {
                break;
            }
            assert!(now["state"] != "failed" && Instant::now() < deadline, "{now}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Nothing is read from the run's folder any more.
        let _ = std::fs::remove_dir_all(data.join("farm").join("acme").join(&id));
        let (_, listed) = c.get(&format!("/v1/farm/runs/{id}/files"), &key).await;
        let listed: Vec<&str> = listed["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(listed, ["s0.png", "s1.png", "s2.png", "s3.png", "s4.png", "s5.png"]);
        let got = c.http.get(format!("{}/v1/farm/runs/{id}/files/s4.png", c.url)).bearer_auth(&key).send().await.unwrap();
        assert_eq!(got.status().as_u16(), 200);
        assert!(got.bytes().await.unwrap().starts_with(b"\x89PNG"), "served from object storage");
        let objects = reqwest::get(format!("{}/frames?list-type=2&prefix=farm/", s3.endpoint)).await.unwrap();
        let listing = objects.text().await.unwrap();
        assert_eq!(listing.matches("<Key>farm/").count(), 6, "one object per distinct file: {listing}");
    });
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    rt.block_on(db.drop_now());
}
