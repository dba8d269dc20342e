//! `switchyard serve` as a process on an ephemeral port, driven by a real HTTP client: runs
//! are queued, executed and kept; every route refuses another tenant's key with 404; bad
//! requests get specific errors and queue nothing; and the queue survives `kill -9`.

mod accounts;
mod alerts;
mod comfy;
mod comfy_frontend;
mod dashboard;
mod farm;
mod farm_remote;
mod lanes;
mod library;
mod payments;
mod reconcile;
pub(crate) mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, create_key, serve, serve_with, slow_workflow, workflow};

#[test]
fn a_submitted_run_is_queued_executed_and_kept() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "runner");
    assert!(key.starts_with("sy_") && key.len() == 3 + 16 + 1 + 64, "{key}");
    let server = serve(data.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (status, run) = c.post("/v1/runs", &key, &json!({ "workflow": workflow(), "priority": 5 })).await;
        assert_eq!(status, 201, "{run}");
        assert_eq!((run["state"].as_str(), run["priority"].as_i64()), (Some("queued"), Some(5)));
        assert_eq!(run["quote"], json!({ "min": 0, "max": 0 }), "local nodes are free");
        let id = run["id"].as_str().unwrap();
        let done = c.wait_for(&key, id, &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["summary"]["reports"][0]["nodes"].as_array().unwrap().len(), 5);
        let (_, page) = c.get("/v1/runs?state=succeeded", &key).await;
        assert_eq!(page["runs"][0]["id"], *id);
        let (status, health) = c.send(reqwest::Method::GET, "/readyz", None, None).await;
        assert_eq!((status, health), (200, Value::Null), "ready, as plain text");
    });
    // The key is stored only as a hash.
    let db = std::fs::read(data.path().join("server.db")).unwrap();
    let secret = key.rsplit('_').next().unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is not in the database");
}

/// Every route, with another tenant's key, answers as if the run did not exist.
#[test]
fn another_tenants_key_finds_nothing() {
    let data = tempfile::tempdir().unwrap();
    let acme = create_key(data.path(), "acme", "admin");
    let rival = create_key(data.path(), "rival", "admin");
    let viewer = create_key(data.path(), "acme", "viewer");
    let server = serve(data.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        // Acme's queue is paused, so its run stays queued while the rival tries everything.
        assert_eq!(c.post("/v1/queue/pause", &acme, &json!({})).await.0, 200);
        let id = c.submit(&acme, workflow()).await;
        let checks: [(reqwest::Method, String, Option<Value>); 5] = [
            (reqwest::Method::GET, format!("/v1/runs/{id}"), None),
            (reqwest::Method::POST, format!("/v1/runs/{id}/move"), Some(json!({ "to": "front" }))),
            (reqwest::Method::POST, format!("/v1/runs/{id}/cancel"), Some(json!({}))),
            (reqwest::Method::POST, format!("/v1/runs/{id}/priority"), Some(json!({ "priority": 9 }))),
            (reqwest::Method::GET, format!("/v1/runs/{id}/nothing"), None),
        ];
        for (method, path, body) in checks {
            let body = body.map(|b| b.to_string().into_bytes());
            let (status, reply) = c.send(method.clone(), &path, Some(&rival), body).await;
            assert_eq!(status, 404, "{method} {path}: {reply}");
            assert!(!reply.to_string().contains("rival"), "{reply}");
        }
        let (_, page) = c.get("/v1/runs", &rival).await;
        assert_eq!(page["runs"], json!([]), "the rival lists none of acme's runs");
        // The rival pausing its own queue does not touch acme's, and acme's run is intact.
        assert_eq!(c.post("/v1/queue/resume", &rival, &json!({})).await.0, 200);
        let (_, run) = c.get(&format!("/v1/runs/{id}"), &acme).await;
        assert_eq!((run["state"].as_str(), run["priority"].as_i64()), (Some("paused"), Some(0)));
        // Without a key, with a forged one, or as a viewer: refused.
        let (status, reply) = c.send(reqwest::Method::GET, "/v1/runs", None, None).await;
        assert_eq!(status, 401, "{reply}");
        let forged = format!("{}{}", &acme[..acme.len() - 1], if acme.ends_with('0') { '1' } else { '0' });
        assert_eq!(c.get("/v1/runs", &forged).await.0, 401);
        assert_eq!(c.get("/v1/runs", "sy_nonsense").await.0, 401);
        let (status, reply) = c.post("/v1/runs", &viewer, &json!({ "workflow": workflow() })).await;
        assert_eq!(status, 403, "{reply}");
        assert_eq!(c.get(&format!("/v1/runs/{id}"), &viewer).await.0, 200, "a viewer of acme reads acme's run");
        // Acme resumes; its run completes.
        assert_eq!(c.post("/v1/queue/resume", &acme, &json!({})).await.0, 200);
        assert_eq!(c.wait_for(&acme, &id, &["succeeded", "failed"]).await["state"], "succeeded");
    });
}

/// Each bad request gets a status and a code that say what is wrong, and queues nothing.
#[test]
fn bad_requests_get_specific_errors_and_queue_nothing() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "admin");
    let server = serve(data.path());
    let unknown_node = json!({ "format": "switchyard.workflow", "version": 1,
        "nodes": { "x": { "type": "image.sharpen_everything" } } });
    let outside_roots = json!({ "format": "switchyard.workflow", "version": 1,
        "nodes": { "x": { "type": "image.load", "params": { "path": "/etc/hostname" } } } });
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not JSON", b"{\"workflow\": ".to_vec(), 400, "bad-body"),
        ("an unknown field", json!({ "workflow": workflow(), "colour": "red" }).to_string().into(), 400, "bad-body"),
        ("no workflow", b"{}".to_vec(), 400, "bad-field"),
        (
            "a workflow and a template",
            json!({ "workflow": workflow(), "template": "acme/x@1" }).to_string().into(),
            400,
            "bad-field",
        ),
        (
            "a template that is not team/name@version",
            json!({ "template": "x" }).to_string().into(),
            400,
            "bad-template",
        ),
        ("a workflow that is a string", json!({ "workflow": "x" }).to_string().into(), 400, "bad-field"),
        ("an unknown node type", json!({ "workflow": unknown_node }).to_string().into(), 400, "invalid-workflow"),
        (
            "an input outside the uploads",
            json!({ "workflow": outside_roots }).to_string().into(),
            400,
            "invalid-workflow",
        ),
        (
            "a priority out of range",
            json!({ "workflow": workflow(), "priority": 1000 }).to_string().into(),
            400,
            "bad-field",
        ),
        (
            "an account with a slash",
            json!({ "workflow": workflow(), "account": "../rival" }).to_string().into(),
            400,
            "bad-field",
        ),
        (
            "a bad override",
            json!({ "workflow": workflow(), "set": ["nonsense"] }).to_string().into(),
            400,
            "invalid-workflow",
        ),
        (
            "an unknown policy",
            json!({ "workflow": workflow(), "policy": "luckiest" }).to_string().into(),
            400,
            "refused",
        ),
        (
            "an account with no wallet",
            json!({ "workflow": workflow(), "account": "ghost" }).to_string().into(),
            400,
            "refused",
        ),
    ];
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        for (what, body, status, code) in cases {
            let (got, reply) = c.send(reqwest::Method::POST, "/v1/runs", Some(&key), Some(body)).await;
            assert_eq!(got, status, "{what}: {reply}");
            if !code.is_empty() {
                assert_eq!(reply["error"]["code"], code, "{what}: {reply}");
                assert!(!reply["error"]["message"].as_str().unwrap_or_default().is_empty(), "{what}");
            }
        }
        // A body over 8 MiB: 413, or the connection closed while it was still being sent.
        let big = c.http.post(format!("{}/v1/runs", c.url)).bearer_auth(&key).body(vec![b' '; 9 << 20]).send().await;
        if let Ok(resp) = big {
            assert_eq!(resp.status().as_u16(), 413);
        }
        assert_eq!(c.send(reqwest::Method::GET, "/readyz", None, None).await.0, 200, "still serving");
        let (_, reply) = c.post("/v1/runs", &key, &json!({ "workflow": outside_roots })).await;
        assert_eq!(reply["error"]["details"][0]["code"], "input-outside-roots", "{reply}");
        let (_, page) = c.get("/v1/runs", &key).await;
        assert_eq!(page["runs"], json!([]), "nothing was queued");
        // An Idempotency-Key replays the first run; with another body it is refused.
        let body = json!({ "workflow": workflow() }).to_string();
        let submit = |body: String| {
            c.http
                .post(format!("{}/v1/runs", c.url))
                .bearer_auth(&key)
                .header("idempotency-key", "frame-0001")
                .body(body)
                .send()
        };
        let first = submit(body.clone()).await.unwrap();
        assert_eq!(first.status().as_u16(), 201);
        let first: Value = first.json().await.unwrap();
        let again = submit(body).await.unwrap();
        assert_eq!(again.status().as_u16(), 200);
        assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
        let other = submit(json!({ "workflow": workflow(), "priority": 1 }).to_string()).await.unwrap();
        assert_eq!(other.status().as_u16(), 422);
        let (_, page) = c.get("/v1/runs", &key).await;
        assert_eq!(page["runs"].as_array().unwrap().len(), 1, "one run for the key");
    });
}

/// `kill -9` loses nothing: queued runs stay queued, and a run that was running is queued
/// again on restart and runs to the end.
#[test]
fn the_queue_survives_kill_9() {
    queue_survives_kill_9(None);
}

/// The same with the queue on PostgreSQL.
#[test]
fn the_queue_survives_kill_9_on_postgres() {
    let rt = crate::support::runtime();
    let db = rt.block_on(switchyard_testkit::TestDatabase::create());
    queue_survives_kill_9(Some(&db.url));
    rt.block_on(db.drop_now());
}

fn queue_survives_kill_9(database: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let extra: Vec<&str> = database.map(|url| vec!["--database", url]).unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--data"])
        .arg(data.path())
        .args(&extra)
        .args(["--create-key", "acme", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let rt = crate::support::runtime();
    let start = || serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &extra);
    let (slow, queued) = {
        let mut server = start();
        let ids = rt.block_on(async {
            let c = Client::new(&server.url);
            let slow = c.submit(&key, slow_workflow()).await;
            c.wait_for(&key, &slow, &["running"]).await;
            assert_eq!(c.post("/v1/queue/pause", &key, &json!({})).await.0, 200);
            let mut queued = Vec::new();
            for _ in 0..3 {
                queued.push(c.submit(&key, workflow()).await);
            }
            (slow, queued)
        });
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        ids
    };
    let server = start();
    rt.block_on(async {
        let c = Client::new(&server.url);
        for id in queued.iter().chain([&slow]) {
            let (_, run) = c.get(&format!("/v1/runs/{id}"), &key).await;
            assert_eq!(run["state"], "paused", "waiting while acme's queue is paused: {run}");
        }
        assert_eq!(c.post("/v1/queue/resume", &key, &json!({})).await.0, 200);
        let run = c.wait_for(&key, &slow, &["succeeded", "failed"]).await;
        assert_eq!(run["state"], "succeeded", "{run}");
        assert_eq!(run["attempts"], 2, "started again after the kill: {run}");
        for id in &queued {
            assert_eq!(c.wait_for(&key, id, &["succeeded", "failed"]).await["state"], "succeeded");
        }
    });
}

/// On PostgreSQL (queue and ledger in one database), a billed run spends from the tenant's
/// own wallet: `acme` submitting for `studio` pays from `acme/studio`, and `rival` naming the
/// same account finds no wallet of its own.
#[test]
fn a_billed_run_on_postgres_spends_the_tenants_own_wallet() {
    let farm = crate::spend::Farm::on_postgres();
    let url = farm.ledger();
    let data = farm.dir.path().join("srv");
    let key_on = |tenant: &str| {
        let out =
            farm.cmd().args(["serve", "--database", &url, "--data"]).arg(&data).args(["--create-key", tenant]).output();
        String::from_utf8(out.unwrap().stdout).unwrap().trim().to_string()
    };
    let (acme, rival) = (key_on("acme"), key_on("rival"));
    let grant =
        farm.cmd().args(["credits", "--ledger", &url, "--account", "acme/studio", "grant", "--plan", "pro"]).output();
    assert!(grant.unwrap().status.success());
    let server = serve_with(farm.cmd(), &data, &["--database", &url, "--metrics-listen", "127.0.0.1:0"]);
    let shot = support::shot();
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let body = json!({ "workflow": shot, "account": "studio" });
        let (status, reply) = c.post("/v1/runs", &rival, &body).await;
        assert_eq!(status, 400, "rival/studio does not exist: {reply}");
        let (status, quote) = c.post("/v1/quote", &acme, &body).await;
        assert_eq!(status, 200, "{quote}");
        // The list price is 74 cr; the server prices at the time of day (off-peak 0.9x,
        // us-peak 1.5x on Runway), so the test takes whichever window is in force.
        let most = quote["quote"]["max"].as_i64().unwrap();
        assert!([74, 67].contains(&most) || most > 74, "{quote}");
        assert_eq!(quote["fits"], true, "{quote}");
        assert_eq!(quote["nodes"].as_array().unwrap().len(), 3, "{quote}");
        let (_, nodes) = c.get("/v1/nodes", &acme).await;
        assert!(nodes["nodes"].as_array().unwrap().iter().any(|n| n["type"] == "image.blur"), "{nodes}");
        let (_, catalog) = c.get("/v1/catalog", &acme).await;
        assert!(catalog["models"].as_array().is_some_and(|m| m.len() >= 10), "the provider catalog");
        let (status, run) = c.post("/v1/runs", &acme, &body).await;
        assert_eq!(status, 201, "{run}");
        assert_eq!(run["quote"], json!({ "min": most, "max": most }));
        assert_eq!(run["tier"], 2, "the Pro plan's tier");
        let id = run["id"].as_str().unwrap();
        let done = c.wait_for(&acme, id, &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let charged = done["summary"]["credits"]["charged"].as_i64().unwrap();
        assert!(charged > 0 && charged <= most, "{done}");
        let balance = farm
            .cmd()
            .args(["credits", "--ledger", &url, "--account", "acme/studio", "balance", "--json"])
            .output()
            .unwrap();
        let balance: Value = serde_json::from_slice(&balance.stdout).unwrap();
        assert_eq!(balance["balance"]["available"], 20_000 - charged, "{balance}");
        let (status, reply) =
            c.post("/v1/runs", &acme, &json!({ "workflow": workflow(), "account": "studio", "budget": 0 })).await;
        assert_eq!(status, 201, "a free run fits a zero budget: {reply}");
        // The wallet through the API: acme's own, and nobody else's.
        let (status, wallet) = c.get("/v1/credits/studio", &acme).await;
        assert_eq!(status, 200, "{wallet}");
        assert_eq!((wallet["available"].as_i64(), wallet["tier"].as_i64()), (Some(20_000 - charged), Some(2)));
        let (status, _) = c.get("/v1/credits/studio", &rival).await;
        assert_eq!(status, 404, "rival/studio does not exist, and acme/studio cannot be named");
        // The accounts listing and the ledger's metrics, on PostgreSQL too.
        let (_, accounts) = c.get("/v1/accounts", &acme).await;
        assert_eq!(accounts["accounts"][0]["account"], "studio", "{accounts}");
        assert_eq!(c.get("/v1/accounts", &rival).await.1["accounts"], json!([]));
        let metrics = c.http.get(server.metrics.clone().unwrap()).send().await.unwrap().text().await.unwrap();
        let posted = format!("switchyard_credits_posted_total {charged}");
        assert!(metrics.contains(&posted) && metrics.contains("switchyard_holds{state=\"posted\"}"), "{metrics}");
        let (_, holds) = c.get("/v1/credits/studio/holds", &acme).await;
        let posted =
            holds["holds"].as_array().unwrap().iter().filter(|h| h["kind"] == "call" && h["state"] == "posted").count();
        assert_eq!(posted, 3, "{holds}");
        let csv = c
            .http
            .get(format!("{}/v1/credits/studio/history?format=csv", c.url))
            .bearer_auth(&acme)
            .send()
            .await
            .unwrap();
        let csv = csv.text().await.unwrap();
        assert!(csv.starts_with("id,created_at_ms,debit,credit,amount,reason") && csv.contains(",charge,"), "{csv}");
    });
}

/// An upload is stored by content and read by a workflow; the run's outputs are listed and
/// downloaded by hash, whole or by `Range`; another tenant cannot download them.
#[test]
fn uploads_feed_runs_and_outputs_download_by_range() {
    let data = tempfile::tempdir().unwrap();
    let (acme, rival) = (create_key(data.path(), "acme", "runner"), create_key(data.path(), "rival", "runner"));
    let server = serve(data.path());
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(32, 16, image::Rgba([200, 30, 30, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let upload = |kind: &'static str, bytes: Vec<u8>| {
            c.http.post(format!("{}/v1/uploads", c.url)).bearer_auth(&acme).header("content-type", kind).body(bytes).send()
        };
        let refused = upload("text/html", b"<html>".to_vec()).await.unwrap();
        assert_eq!(refused.status().as_u16(), 415);
        let up: Value = upload("image/png", png.clone()).await.unwrap().json().await.unwrap();
        let again: Value = upload("image/png", png.clone()).await.unwrap().json().await.unwrap();
        assert_eq!(up["path"], again["path"], "content-addressed");
        let wf = json!({ "format": "switchyard.workflow", "version": 1, "nodes": {
            "load": { "type": "image.load", "params": { "path": up["path"] } },
            "soften": { "type": "image.blur", "params": { "sigma": 1.0 }, "inputs": { "image": "load.image" } },
            "save": { "type": "image.save", "params": { "path": "flipped.png" }, "inputs": { "image": "soften.image" } } } });
        // The same path in the rival's workflow names the rival's own uploads, where it is not.
        let theirs = c.submit(&rival, wf.clone()).await;
        let failed = c.wait_for(&rival, &theirs, &["succeeded", "failed"]).await;
        assert_eq!(failed["state"], "failed", "the rival cannot read acme's upload: {failed}");
        let id = c.submit(&acme, wf).await;
        let done = c.wait_for(&acme, &id, &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let (status, listed) = c.get(&format!("/v1/runs/{id}/outputs"), &acme).await;
        assert_eq!(status, 200, "{listed}");
        let out = &listed["outputs"][0];
        assert_eq!((out["name"].as_str(), out["media_type"].as_str()), (Some("flipped.png"), Some("image/png")), "{listed}");
        let url = format!("{}{}", c.url, out["url"].as_str().unwrap());
        let whole = c.http.get(&url).bearer_auth(&acme).send().await.unwrap();
        assert_eq!(whole.status().as_u16(), 200);
        let bytes = whole.bytes().await.unwrap();
        assert_eq!(bytes.len() as i64, out["bytes"].as_i64().unwrap());
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 32, "a real PNG");
        let part = c.http.get(&url).bearer_auth(&acme).header("range", "bytes=1-3").send().await.unwrap();
        assert_eq!(part.status().as_u16(), 206);
        assert_eq!(part.headers()["content-range"], format!("bytes 1-3/{}", bytes.len()).as_str());
        assert_eq!(part.bytes().await.unwrap(), bytes.slice(1..4), "PNG's signature bytes 1-3");
        let past = c.http.get(&url).bearer_auth(&acme).header("range", "bytes=999999-").send().await.unwrap();
        assert_eq!(past.status().as_u16(), 416);
        let theirs = c.http.get(&url).bearer_auth(&rival).send().await.unwrap();
        assert_eq!(theirs.status().as_u16(), 404, "the rival knows the hash, and still finds nothing");
        assert_eq!(c.get(&format!("/v1/runs/{id}/outputs"), &rival).await.0, 404);
    });
}

/// Over its rate a key gets 429 with `Retry-After`, and its tenant's other key does not;
/// `/metrics` counts submissions, refusals and the queue.
#[test]
fn a_key_over_its_rate_gets_429_and_metrics_count_it() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (create_key(data.path(), "acme", "admin"), create_key(data.path(), "acme", "admin"));
    let extra = ["--rate-limit", "2", "--metrics-listen", "127.0.0.1:0"];
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &extra);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/queue/pause", &a, &json!({})).await.0, 200);
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let resp = c
                .http
                .post(format!("{}/v1/runs", c.url))
                .bearer_auth(&a)
                .body(json!({ "workflow": workflow() }).to_string())
                .send()
                .await
                .unwrap();
            if resp.status().as_u16() == 429 {
                let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=2).contains(&wait), "{wait}");
            }
            statuses.push(resp.status().as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            3,
            "a burst of 4, one spent on the pause: {statuses:?}"
        );
        assert!(statuses.contains(&429), "{statuses:?}");
        assert_eq!(c.get("/v1/runs", &b).await.0, 200, "the tenant's other key has its own bucket");
        let text = c.http.get(server.metrics.clone().unwrap()).send().await.unwrap().text().await.unwrap();
        let depth = "switchyard_runs{state=\"paused\",lane=\"standard\",tier=\"0\"} 3";
        for want in ["switchyard_runs_submitted_total 3", depth, "switchyard_credits_held 0"] {
            assert!(text.contains(want), "{want} in:\n{text}");
        }
        assert!(text.contains("switchyard_requests_rate_limited_total "), "{text}");
        assert!(!text.contains(&a[3..19]), "no key id in the metrics");
    });
}

/// `/v1/events` streams a tenant's run and node events; a reconnect with the last id seen
/// gets the rest; another tenant can neither open a run's stream nor see its events.
#[test]
fn events_stream_to_the_tenant_and_resume_after_the_last_id() {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let data = tempfile::tempdir().unwrap();
    let (acme, rival) = (create_key(data.path(), "acme", "runner"), create_key(data.path(), "rival", "runner"));
    let server = serve(data.path());
    let ws_url = |query: &str| format!("{}/v1/events{query}", server.url.replacen("http", "ws", 1));
    let connect = |query: String, key: String| async move {
        let mut req = ws_url(&query).into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
        tokio_tungstenite::connect_async(req).await
    };
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (mut all, _) = connect("?previews=true".into(), acme.clone()).await.expect("acme's stream opens");
        let (mut theirs, _) = connect("?previews=true".into(), rival.clone()).await.expect("rival's stream opens");
        let id = c.submit(&acme, workflow()).await;
        let mut seen: Vec<Value> = Vec::new();
        while seen.last().is_none_or(|e| e["event"]["state"] != "succeeded") {
            let msg = tokio::time::timeout(Duration::from_secs(60), all.next()).await.unwrap().unwrap().unwrap();
            if let Message::Text(text) = msg {
                seen.push(serde_json::from_str(&text).unwrap());
            }
        }
        assert!(seen.iter().all(|e| e["run"] == *id.as_str()), "{seen:?}");
        assert_eq!(seen[0]["event"]["state"], "running");
        let finished = seen.iter().filter(|e| e["kind"] == "node" && e["event"]["event"] == "finished").count();
        assert_eq!(finished, 5, "every node's end arrives: {seen:?}");
        // Previews of image outputs: small PNGs, live only (no id to resume from).
        let previews: Vec<&Value> = seen.iter().filter(|e| e["kind"] == "preview").collect();
        assert!(previews.len() >= 3, "{seen:?}");
        for p in &previews {
            use base64::Engine as _;
            assert!(p["id"].is_null(), "{p}");
            let bytes = base64::engine::general_purpose::STANDARD.decode(p["event"]["data"].as_str().unwrap()).unwrap();
            let info = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap().info().clone();
            assert_eq!(
                (info.width, info.height),
                (p["event"]["width"].as_u64().unwrap() as u32, p["event"]["height"].as_u64().unwrap() as u32)
            );
            assert!(info.width <= 256 && info.height <= 256, "{info:?}");
        }
        seen.retain(|e| e["kind"] != "preview");
        let ids: Vec<u64> = seen.iter().map(|e| e["id"].as_u64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        // Reconnecting after the third event replays exactly what followed it.
        let (mut again, _) = connect(format!("?run={id}&after={}", ids[2]), acme.clone()).await.unwrap();
        let mut replayed = Vec::new();
        while replayed.len() < ids.len() - 3 {
            if let Message::Text(text) = again.next().await.unwrap().unwrap() {
                replayed.push(serde_json::from_str::<Value>(&text).unwrap()["id"].as_u64().unwrap());
            }
        }
        assert_eq!(replayed, ids[3..]);
        // The rival's stream saw nothing, and it cannot open acme's run's stream.
        let quiet = tokio::time::timeout(Duration::from_millis(300), theirs.next()).await;
        assert!(quiet.is_err(), "no event of acme's reached the rival: {quiet:?}");
        let refused = connect(format!("?run={id}"), rival.clone()).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 404),
            other => panic!("expected 404, got {other:?}"),
        }
        let _ = all.send(Message::Close(None)).await;
    });
}

/// SIGTERM: the server stops taking work, gives the running run its grace period (200 ms
/// here), stops it and puts it back in the queue, and exits cleanly; the next start runs it.
#[test]
fn sigterm_requeues_the_running_run_after_its_grace() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "runner");
    let rt = crate::support::runtime();
    let mut server = serve(data.path());
    let id = rt.block_on(async {
        let c = Client::new(&server.url);
        let id = c.submit(&key, slow_workflow()).await;
        c.wait_for(&key, &id, &["running"]).await;
        id
    });
    let pid = server.child.id() as libc::pid_t;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let server = serve(data.path());
    rt.block_on(async {
        let c = Client::new(&server.url);
        let run = c.wait_for(&key, &id, &["succeeded", "failed", "cancelled"]).await;
        assert_eq!((run["state"].as_str(), run["attempts"].as_i64()), (Some("succeeded"), Some(2)), "{run}");
    });
}

/// Fair share: one account's long batch takes turns with another account's runs at the same
/// tier and priority, instead of going first in full.
#[test]
fn a_long_batch_takes_turns_with_other_accounts() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "admin");
    for account in ["acme/farm", "acme/artist"] {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["credits", "--ledger"])
            .arg(data.path().join("ledger.db"))
            .args(["--account", account, "topup", "--pack", "100", "--payment-id", account])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &["--workers", "1"]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/queue/pause", &key, &json!({})).await.0, 200);
        let mut submitted = Vec::new();
        for account in ["farm", "farm", "farm", "farm", "farm", "artist", "artist"] {
            let (status, run) = c.post("/v1/runs", &key, &json!({ "workflow": workflow(), "account": account })).await;
            assert_eq!(status, 201, "{run}");
            submitted.push((run["id"].as_str().unwrap().to_string(), account));
        }
        assert_eq!(c.post("/v1/queue/resume", &key, &json!({})).await.0, 200);
        let mut started = Vec::new();
        for (id, account) in &submitted {
            let run = c.wait_for(&key, id, &["succeeded", "failed"]).await;
            assert_eq!(run["state"], "succeeded", "{run}");
            started.push((run["started_at_ms"].as_i64().unwrap(), *account));
        }
        started.sort();
        let order: Vec<&str> = started.iter().map(|(_, a)| *a).collect();
        assert_eq!(order, ["farm", "artist", "farm", "artist", "farm", "farm", "farm"], "taking turns");
    });
}

/// `switchyard submit --wait` and `switchyard runs` against a server, with the key from
/// `SWITCHYARD_TOKEN`: the same exit codes as a local run.
#[test]
fn the_cli_submits_watches_lists_and_cancels() {
    let data = tempfile::tempdir().unwrap();
    let (acme, rival) = (create_key(data.path(), "acme", "runner"), create_key(data.path(), "rival", "runner"));
    let server = serve(data.path());
    let wf = data.path().join("sizes.json");
    std::fs::write(&wf, workflow().to_string()).unwrap();
    let bad = data.path().join("bad.json");
    std::fs::write(
        &bad,
        json!({ "format": "switchyard.workflow", "version": 1, "nodes": { "x": { "type": "image.nope" } } })
            .to_string(),
    )
    .unwrap();
    let cli = |key: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .env("SWITCHYARD_TOKEN", key)
            .args(args)
            .args(["--server", &server.url])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let wf = wf.to_str().unwrap();
    let (code, out, err) = cli(&acme, &["submit", wf, "--wait", "--priority", "-3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("succeeded"), "{out}");
    assert!(err.contains("sheet") && err.contains("finished"), "node progress is shown: {err}");
    let id = out.split_whitespace().next().unwrap().to_string();
    let (code, out, _) = cli(&acme, &["runs", "list", "--json"]);
    assert_eq!(code, 0);
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["runs"][0]["id"], *id.as_str());
    assert_eq!(page["runs"][0]["priority"], -3);
    let (code, _, err) = cli(&rival, &["runs", "show", &id]);
    assert_eq!(code, 2, "another tenant's run is not found: {err}");
    assert!(err.contains("not-found"), "{err}");
    let (code, _, err) = cli(&acme, &["submit", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("x: unknown node type \"image.nope\" [unknown-node-type]"), "{err}");
    let (code, _, err) = cli("sy_0000000000000000_00", &["runs", "list"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unauthorized"), "{err}");
    let (code, out, _) = cli(&acme, &["runs", "cancel", &id]);
    assert_eq!((code, out.trim().ends_with("succeeded")), (0, true), "an ended run stays as it ended: {out}");
}

/// `switchyard runs priority` and `runs move` reorder waiting runs from the command line.
#[test]
fn the_cli_reprioritises_and_moves_waiting_runs() {
    let data = tempfile::tempdir().unwrap();
    let admin = create_key(data.path(), "acme", "admin");
    let server = serve(data.path());
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .env("SWITCHYARD_TOKEN", &admin)
            .args(args)
            .args(["--server", &server.url])
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let ids = crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/queue/pause", &admin, &json!({})).await.0, 200);
        [c.submit(&admin, workflow()).await, c.submit(&admin, workflow()).await]
    });
    let (code, out) = cli(&["runs", "priority", &ids[0], "-7"]);
    assert_eq!((code, out.trim().ends_with("priority -7")), (0, true), "{out}");
    let (code, out) = cli(&["runs", "move", &ids[1], "--to", "front"]);
    assert_eq!((code, out.contains("already at the front")), (0, true), "alone at priority 0 now: {out}");
    let (code, _) = cli(&["runs", "move", &ids[1], "--to", "sideways"]);
    assert_eq!(code, 2, "a bad direction is refused");
}

/// `/v1/openapi.json` is valid OpenAPI 3.1 (checked by openapi-spec-validator, which
/// `scripts/setup` installs), documents exactly the routes served, and every one of them is
/// routed (a documented path never reaches the fallback).
#[test]
fn the_openapi_document_is_valid_and_matches_the_routes() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "admin");
    let server = serve(data.path());
    let doc: Value = crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (status, doc) = c.send(reqwest::Method::GET, "/v1/openapi.json", None, None).await;
        assert_eq!(status, 200);
        for (method, path) in switchyard_server::documented_routes() {
            let concrete = path.replace("{id}", "0000").replace("{hash}", &"0".repeat(64));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == reqwest::Method::POST).then(|| b"{}".to_vec());
            let (status, reply) = c.send(method.clone(), &format!("/v1{concrete}"), Some(&key), body).await;
            assert_ne!(reply["error"]["message"], "no such route", "{method} {path} is served: {status}");
        }
        doc
    });
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(documented, switchyard_server::documented_routes().len());
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["schemas"]["RunView"].is_object(), "{}", doc["components"]);
    let file = data.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let validator = Path::new(env!("CARGO_MANIFEST_DIR")).join("third_party/openapi-validator");
    assert!(validator.is_dir(), "run scripts/setup: it installs openapi-spec-validator into {}", validator.display());
    let out = Command::new("python3")
        .env("PYTHONPATH", &validator)
        .args(["-c", "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An admin makes keys (shown once), lists them (never a secret) and revokes them; a revoked
/// or expired key stops working at once; another tenant's admin cannot touch them.
#[test]
fn admins_make_list_and_revoke_their_tenants_keys() {
    let data = tempfile::tempdir().unwrap();
    let (admin, rival) = (create_key(data.path(), "acme", "admin"), create_key(data.path(), "rival", "admin"));
    let server = serve(data.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (status, made) = c.post("/v1/keys", &admin, &json!({ "role": "runner" })).await;
        assert_eq!(status, 201, "{made}");
        let (token, id) =
            (made["token"].as_str().unwrap().to_string(), made["key"]["id"].as_str().unwrap().to_string());
        assert!(token.contains(&id));
        let (_, brief) = c.post("/v1/keys", &admin, &json!({ "role": "viewer", "expires_in_s": 1 })).await;
        let brief = brief["token"].as_str().unwrap().to_string();
        assert_eq!(c.get("/v1/runs", &token).await.0, 200);
        assert_eq!(c.get("/v1/keys", &token).await.0, 403, "a runner does not manage keys");
        assert_eq!(c.get("/v1/doctor", &token).await.0, 403, "nor sees the machine");
        let (status, doctor) = c.get("/v1/doctor", &admin).await;
        assert_eq!((status, doctor["backend"].as_str(), doctor["workers"].as_u64()), (200, Some("sqlite"), Some(2)));
        assert!(doctor["machine"]["cpu_threads"].as_u64() > Some(0), "{doctor}");
        assert!(doctor["machine"]["memory_total_bytes"].as_u64() > Some(0), "{doctor}");
        let (_, listed) = c.get("/v1/keys", &admin).await;
        assert_eq!(listed["keys"].as_array().unwrap().len(), 3, "{listed}");
        let secret = token.rsplit('_').next().unwrap();
        assert!(!listed.to_string().contains(secret), "no secret in a listing");
        assert_eq!(c.post(&format!("/v1/keys/{id}/revoke"), &rival, &json!({})).await.0, 404, "not the rival's key");
        assert_eq!(c.get("/v1/runs", &token).await.0, 200, "still works");
        let (status, revoked) = c.post(&format!("/v1/keys/{id}/revoke"), &admin, &json!({})).await;
        assert_eq!(status, 200, "{revoked}");
        assert!(revoked["revoked_at_ms"].is_i64());
        assert_eq!(c.get("/v1/runs", &token).await.0, 401, "revoked");
        let (status, bad) = c.post("/v1/keys", &admin, &json!({ "role": "root" })).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("bad-field")));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(c.get("/v1/runs", &brief).await.0, 401, "expired");
    });
}

/// Every route that reads a body, fed malformed and oversize ones: a specific 4xx each time,
/// the server still serving, and nothing queued or changed.
#[test]
fn every_body_reading_route_refuses_malformed_and_oversize_bodies() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "admin");
    let server = serve(data.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/queue/pause", &key, &json!({})).await.0, 200);
        let id = c.submit(&key, workflow()).await;
        let post = reqwest::Method::POST;
        let routes = [
            (post.clone(), "/v1/runs".to_string()),
            (post.clone(), "/v1/quote".into()),
            (post.clone(), format!("/v1/runs/{id}/priority")),
            (post.clone(), "/v1/keys".into()),
            (post.clone(), "/v1/accounts/studio/grants".into()),
            (post.clone(), "/v1/accounts/studio/topups".into()),
            (reqwest::Method::PUT, "/v1/accounts/studio/members/ana".into()),
        ];
        let bodies: [(&str, Vec<u8>); 6] = [
            ("empty", Vec::new()),
            ("not JSON", b"\x00\xff{".to_vec()),
            ("a JSON array", b"[1, 2]".to_vec()),
            ("truncated", b"{\"priority\": ".to_vec()),
            ("an unknown field", b"{\"zzz\": 1}".to_vec()),
            ("deeply nested", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes()),
        ];
        for (method, route) in &routes {
            for (what, body) in &bodies {
                let (status, reply) = c.send(method.clone(), route, Some(&key), Some(body.clone())).await;
                assert_eq!(status, 400, "{route} with {what}: {reply}");
                assert!(reply["error"]["code"].is_string(), "{route} with {what}: {reply}");
            }
            let big = c.http.request(method.clone(), format!("{}{route}", c.url)).bearer_auth(&key);
            let big = big.body(vec![b'{'; 9 << 20]).send().await;
            if let Ok(resp) = big {
                assert_eq!(resp.status().as_u16(), 413, "{route}");
            }
        }
        let upload = |kind: &'static str, body: Vec<u8>| {
            c.http
                .post(format!("{}/v1/uploads", c.url))
                .bearer_auth(&key)
                .header("content-type", kind)
                .body(body)
                .send()
        };
        assert_eq!(upload("image/png", Vec::new()).await.unwrap().status().as_u16(), 400, "an empty upload");
        if let Ok(resp) = upload("image/png", vec![0; 257 << 20]).await {
            assert_eq!(resp.status().as_u16(), 413, "an upload over 256 MiB");
        }
        assert_eq!(c.send(reqwest::Method::GET, "/readyz", None, None).await.0, 200, "still serving");
        let (_, page) = c.get("/v1/runs", &key).await;
        assert_eq!(page["runs"].as_array().unwrap().len(), 1, "only the one good run");
        assert_eq!(page["runs"][0]["priority"], 0, "unchanged");
        let (_, keys) = c.get("/v1/keys", &key).await;
        assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "no key was made");
        let (_, accounts) = c.get("/v1/accounts", &key).await;
        assert_eq!(accounts["accounts"], json!([]), "no account was made");
    });
}

/// At submit the reply says when the run is expected to start; a run that would wait longer
/// than its `max_wait_s` is refused with 503 and `Retry-After`, and nothing is queued.
#[test]
fn a_run_that_would_wait_too_long_is_refused_at_submit() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "runner");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &["--workers", "1"]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let slow = c.submit(&key, slow_workflow()).await;
        c.wait_for(&key, &slow, &["running"]).await;
        // The estimate's view of the queue is at most a second old.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, queued) = c.post("/v1/runs", &key, &json!({ "workflow": workflow() })).await;
        assert_eq!(status, 201, "{queued}");
        let wait = queued["expected_start_ms"].as_i64().unwrap() - queued["submitted_at_ms"].as_i64().unwrap();
        assert!(wait >= 100, "it waits for the running run: {wait} ms, {queued}");
        let resp = c
            .http
            .post(format!("{}/v1/runs", c.url))
            .bearer_auth(&key)
            .body(json!({ "workflow": workflow(), "max_wait_s": 0 }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "queue-too-long", "{body}");
        let (_, page) = c.get("/v1/runs", &key).await;
        assert_eq!(page["runs"].as_array().unwrap().len(), 2, "the refused run was not queued");
        let (status, _) = c.post("/v1/runs", &key, &json!({ "workflow": workflow(), "max_wait_s": 86_400 })).await;
        assert_eq!(status, 201, "a patient run is queued");
        c.post(&format!("/v1/runs/{slow}/cancel"), &key, &json!({})).await;
    });
}

/// A waiting run moves to the front of its account's own line and starts first; moving a run
/// that is not waiting, or to nowhere, is refused.
#[test]
fn a_waiting_run_moves_to_the_front_of_its_own_line() {
    let data = tempfile::tempdir().unwrap();
    let key = create_key(data.path(), "acme", "admin");
    let server = serve_with(Command::new(env!("CARGO_BIN_EXE_switchyard")), data.path(), &["--workers", "1"]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/queue/pause", &key, &json!({})).await.0, 200);
        let ids =
            [c.submit(&key, workflow()).await, c.submit(&key, workflow()).await, c.submit(&key, workflow()).await];
        let (status, moved) = c.post(&format!("/v1/runs/{}/move", ids[2]), &key, &json!({ "to": "front" })).await;
        assert_eq!((status, moved["swapped_with"].as_str()), (200, Some(ids[0].as_str())), "{moved}");
        let (_, again) = c.post(&format!("/v1/runs/{}/move", ids[2]), &key, &json!({ "to": "front" })).await;
        assert!(again["swapped_with"].is_null(), "already at the front: {again}");
        let (status, bad) = c.post(&format!("/v1/runs/{}/move", ids[2]), &key, &json!({ "to": "up" })).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("bad-field")));
        assert_eq!(c.post("/v1/queue/resume", &key, &json!({})).await.0, 200);
        let mut started = Vec::new();
        for id in &ids {
            let run = c.wait_for(&key, id, &["succeeded"]).await;
            started.push(run["started_at_ms"].as_i64().unwrap());
        }
        assert!(started[2] <= started[1] && started[1] <= started[0], "the moved run first: {started:?}");
        let (status, done) = c.post(&format!("/v1/runs/{}/move", ids[0]), &key, &json!({ "to": "back" })).await;
        assert_eq!((status, done["error"]["code"].as_str()), (409, Some("not-queued")), "{done}");
    });
}
