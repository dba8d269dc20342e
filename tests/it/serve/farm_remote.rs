//! Workers that may not reach the farm's database join through the server's URL with a
//! worker key (`switchyard worker --server URL`), as real processes: they claim, renew and
//! report over HTTP, the server takes their paid calls' ledger steps under each task's
//! lease, frames come by hash and files go back by hash. Killed with `kill -9` mid-task,
//! their tasks come back after the lease; every frame is kept once, each paid call is
//! charged once, and no hold stays pending. A worker key does nothing else; a tenant's key
//! cannot work tasks.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_session::farm::Farm;

use super::support::{Client, Served, serve_with};
use crate::spend::Farm as Paid;

const FRAMES: usize = 40;
const KILLS: usize = 2;
const CHUNK: usize = 2;

/// A worker that knows only the server's URL and its key, with a cache folder of its own.
fn remote_worker(paid: &Paid, server: &Served, key: &str, id: &str, extra: &[&str]) -> (String, Child) {
    let child = paid
        .cmd()
        .args(["worker", "--server", &server.url, "--id", id, "--lease-ms", "1500"])
        .args(extra)
        .env("SWITCHYARD_TOKEN", key)
        .env("SWITCHYARD_FARM_DATABASE", "postgres://nobody@127.0.0.1:1/unreachable")
        .env("XDG_CACHE_HOME", paid.dir.path().join(format!("cache-{id}")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (id.to_string(), child)
}

/// Uploads `n` small frames as `key`'s tenant; their upload paths.
async fn upload_frames(c: &Client, key: &str, n: usize) -> Vec<String> {
    let mut files = Vec::new();
    for i in 0..n {
        let mut png = Vec::new();
        let img = image::RgbImage::from_fn(20, 12, |x, y| image::Rgb([(x * 11 + i as u32) as u8, (y * 7) as u8, 3]));
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let resp = c.http.post(format!("{}/v1/uploads", c.url)).bearer_auth(key).header("content-type", "image/png");
        let reply: Value = resp.body(png).send().await.unwrap().json().await.unwrap();
        files.push(reply["path"].as_str().unwrap().to_string());
    }
    files
}

/// Polls farm run `id` until it ends; its last view.
async fn wait_done(c: &Client, key: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, now) = c.get(&format!("/v1/farm/runs/{id}"), key).await;
        if now["state"] != "queued" && now["state"] != "running" {
            return now;
        }
        assert!(Instant::now() < deadline, "the farm run did not finish: {now}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn workers_that_cannot_reach_the_database_work_through_the_servers_url() {
    let paid = Paid::on_postgres();
    let url = paid.ledger();
    let data = paid.dir.path().join("srv");
    let (acme, rival) = (paid.server_key(&data, "acme", "runner"), paid.server_key(&data, "rival", "admin"));
    let worker_key = paid.server_key(&data, "farm", "worker");
    let mut grant = paid.cmd();
    grant.args(["credits", "--ledger", &url, "--account", "acme/studio", "grant", "--plan", "pro"]);
    assert!(grant.output().unwrap().status.success());
    let server = serve_with(paid.cmd(), &data, &["--database", &url, "--farm", "--metrics-listen", "127.0.0.1:0"]);
    let rt = crate::support::runtime();
    let farm = rt.block_on(Farm::connect(&url, 2)).unwrap();
    let c = Client::new(&server.url);
    let (id, submitted) = rt.block_on(async {
        let files = upload_frames(&c, &acme, FRAMES).await;
        let workflow = cutout(&files[0]);
        let names: Vec<String> = (0..FRAMES).map(|i| format!("f{i:02}")).collect();
        let body = json!({ "workflow": workflow, "files": files, "names": names, "bind": "load.path", "chunk": CHUNK,
            "max_attempts": 9, "account": "studio" });
        let (status, run) = c.post("/v1/farm/runs", &acme, &body).await;
        assert_eq!(status, 201, "{run}");

        // A worker key works tasks and nothing else; tenants' keys cannot work tasks; no
        // tenant can make a worker key; a lease the caller does not hold is refused.
        for path in ["/v1/farm/runs", "/v1/runs", "/v1/accounts"] {
            assert_eq!(c.get(path, &worker_key).await.0, 403, "{path} with a worker key");
        }
        let claim = json!({ "worker": { "id": "sneaky", "host": "h", "slots": 1, "memory_gb": 8.0,
            "gpu_brands": [], "onnx_providers": [], "tags": [] }, "n": 1, "lease_ms": 5000 });
        for key in [&acme, &rival] {
            assert_eq!(c.post("/v1/farm/work/claim", key, &claim).await.0, 403, "a tenant's key claims nothing");
        }
        let (status, made) = c.post("/v1/keys", &rival, &json!({ "role": "worker" })).await;
        assert_eq!(status, 403, "{made}");
        let stale = json!({ "task": 1, "token": "not-a-lease" });
        let bogus = [
            ("renew", json!({ "lease": stale, "lease_ms": 5000 })),
            ("complete", json!({ "lease": stale, "outcome": "done", "outputs": [] })),
            ("task", stale.clone()),
            ("spend", json!({ "lease": stale, "step": { "unknown": { "hold": "h" } } })),
        ];
        for (what, body) in bogus {
            let (status, reply) = c.post(&format!("/v1/farm/work/{what}"), &worker_key, &body).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("lease-lost")), "{what}: {reply}");
        }
        let mut bad_worker = claim.clone();
        bad_worker["worker"]["id"] = json!("../etc");
        let (status, reply) = c.post("/v1/farm/work/claim", &worker_key, &bad_worker).await;
        assert_eq!(status, 400, "{reply}");
        (run["id"].as_str().unwrap().to_string(), body)
    });

    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("kill seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut workers: Vec<(String, Child)> =
        (0..2).map(|i| remote_worker(&paid, &server, &worker_key, &format!("r{i}"), &[])).collect();
    let mut killed = 0;
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let (_, now) = rt.block_on(c.get(&format!("/v1/farm/runs/{id}"), &acme));
        if now["state"] != "queued" && now["state"] != "running" {
            break now;
        }
        assert!(Instant::now() < deadline, "the farm run did not finish: {now}");
        let victim = (next() % 2) as usize;
        let leases = rt.block_on(farm.leases()).unwrap();
        if killed < KILLS && leases.iter().any(|l| l.3.as_deref() == Some(&workers[victim].0)) {
            std::thread::sleep(Duration::from_millis(next() % 150));
            let (name, mut child) = workers.remove(victim);
            child.kill().unwrap();
            child.wait().unwrap();
            killed += 1;
            workers.insert(victim, remote_worker(&paid, &server, &worker_key, &format!("{name}-{killed}"), &[]));
            continue;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    for (_, child) in &mut workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(killed, KILLS, "every kill landed on a worker holding a task");
    let tasks = rt.block_on(farm.tasks(&id)).unwrap();
    assert!(tasks.iter().any(|t| t.attempts >= 2), "a killed worker's task ran again");

    rt.block_on(async {
        let (_, listed) = c.get(&format!("/v1/farm/runs/{id}/files"), &acme).await;
        let names: Vec<&str> =
            listed["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..FRAMES).map(|i| format!("f{i:02}.png")).collect();
        assert_eq!(names, want, "every frame once, sent back by the workers");
        let got = c.http.get(format!("{}/v1/farm/runs/{id}/files/f07.png", c.url)).bearer_auth(&acme);
        assert!(got.send().await.unwrap().bytes().await.unwrap().starts_with(b"\x89PNG"));
        let metrics = c.http.get(server.metrics.clone().unwrap()).send().await.unwrap().text().await.unwrap();
        let sent = metric(&metrics, "switchyard_farm_inputs_sent_total");
        assert!(sent >= FRAMES as u64, "every frame went out at least once: {sent}");
    });

    // The same frames again on a machine that has never seen them: the paid results come
    // from the farm's shared cache tier (on the server), so no call is made or charged again.
    let (calls_before, spent_before) = (paid.mock.requests_to("recraft.remove_background").len(), spent(&paid));
    let (_, mut fresh) = remote_worker(&paid, &server, &worker_key, "fresh", &[]);
    rt.block_on(async {
        let (status, again) = c.post("/v1/farm/runs", &acme, &submitted).await;
        assert_eq!(status, 201, "{again}");
        let again = wait_done(&c, &acme, again["id"].as_str().unwrap()).await;
        assert_eq!(again["state"], "done", "{again}");
    });
    let _ = fresh.kill();
    let _ = fresh.wait();
    assert_eq!(paid.mock.requests_to("recraft.remove_background").len(), calls_before, "no call made again");
    assert_eq!(spent(&paid), spent_before, "nothing charged again");
    let (calls, posted, unknown) = check_books(&paid, FRAMES);
    // The workers share no folder, but their paid results go to the farm's cache tier on the
    // server as each call ends, so a killed task's retry reuses them: a kill costs at most
    // the call it cut off.
    assert!(calls <= FRAMES + KILLS, "a kill costs at most the call it cut off: {calls} calls");
    eprintln!("{calls} calls, {posted} posted, {unknown} unknown");
}

/// A remote worker keeps the frames it fetched by hash and never fetches one it has; the
/// server never takes a file whose content it has. Its task processes (`--isolate`) work
/// through the server too; files may be written in subfolders and downloaded by that name.
#[test]
fn a_remote_worker_fetches_each_frame_once_and_sends_each_content_once() {
    let paid = Paid::on_postgres();
    let url = paid.ledger();
    let data = paid.dir.path().join("srv");
    let acme = paid.server_key(&data, "acme", "runner");
    let worker_key = paid.server_key(&data, "farm", "worker");
    let server = serve_with(paid.cmd(), &data, &["--database", &url, "--farm", "--metrics-listen", "127.0.0.1:0"]);
    let (_, mut worker) = remote_worker(&paid, &server, &worker_key, "solo", &["--isolate", "--slots", "2"]);
    let rt = crate::support::runtime();
    rt.block_on(async {
        let c = Client::new(&server.url);
        let files = upload_frames(&c, &acme, 6).await;
        let workflow = json!({ "format": "switchyard.workflow", "version": 1, "name": "blur",
            "nodes": {
                "load": { "type": "image.load", "params": { "path": files[0] } },
                "blur": { "type": "image.blur", "params": { "sigma": 1.0 }, "inputs": { "image": "load.image" } },
                "save": { "type": "image.save", "params": { "path": "blurred/{item}.png" }, "inputs": { "image": "blur.image" } }
            } });
        let body = json!({ "workflow": workflow, "files": files, "bind": "load.path", "chunk": 2 });
        let metrics = || async {
            let text = c.http.get(server.metrics.clone().unwrap()).send().await.unwrap().text().await.unwrap();
            (metric(&text, "switchyard_farm_inputs_sent_total"), metric(&text, "switchyard_farm_blobs_received_total"))
        };
        for round in 0..2 {
            let (status, run) = c.post("/v1/farm/runs", &acme, &body).await;
            assert_eq!(status, 201, "{run}");
            let id = run["id"].as_str().unwrap().to_string();
            let done = wait_done(&c, &acme, &id).await;
            assert_eq!(done["state"], "done", "round {round}: {done}");
            let (_, listed) = c.get(&format!("/v1/farm/runs/{id}/files"), &acme).await;
            let listed = listed["files"].as_array().unwrap().clone();
            assert_eq!(listed.len(), 6, "{listed:?}");
            assert!(listed[0]["name"].as_str().unwrap().starts_with("blurred/"), "{listed:?}");
            let got = c.http.get(format!("{}{}", c.url, listed[0]["url"].as_str().unwrap())).bearer_auth(&acme);
            let got = got.send().await.unwrap();
            assert_eq!(got.status().as_u16(), 200, "a file in a subfolder downloads by its name");
            assert!(got.bytes().await.unwrap().starts_with(b"\x89PNG"));
            assert_eq!(metrics().await, (6, 6), "round {round}: frames fetched and files sent, once each");
        }
    });
    let _ = worker.kill();
    let _ = worker.wait();
}

/// Every paid call the provider saw is posted once or left unknown (cut off mid-flight), no
/// hold stays pending, and every one of `frames` frames' calls is paid: `(calls, posted,
/// unknown)`.
fn check_books(paid: &Paid, frames: usize) -> (usize, usize, usize) {
    let calls = paid.mock.requests_to("recraft.remove_background").len();
    let (posted, unknown) = crate::farm_billed::check_call_holds(&paid.holds_of("acme/studio"), calls, frames);
    (calls, posted, unknown)
}

/// The database goes away for three seconds mid-run, under the server and so under its
/// remote workers: they wait it out (the server answers 503 meanwhile), the leases that
/// expired are taken back, and every frame is kept and paid once.
#[test]
fn remote_workers_and_the_server_ride_out_a_database_outage() {
    const N: usize = 30;
    let paid = Paid::on_postgres();
    let proxy = switchyard_testkit::Proxy::start(&paid.ledger());
    let data = paid.dir.path().join("srv");
    let acme = paid.server_key(&data, "acme", "runner");
    let worker_key = paid.server_key(&data, "farm", "worker");
    let mut grant = paid.cmd();
    grant.args(["credits", "--ledger", &paid.ledger(), "--account", "acme/studio", "grant", "--plan", "pro"]);
    assert!(grant.output().unwrap().status.success());
    let server = serve_with(paid.cmd(), &data, &["--database", &proxy.url, "--farm"]);
    let rt = crate::support::runtime();
    let farm = rt.block_on(Farm::connect(&paid.ledger(), 2)).unwrap();
    let c = Client::new(&server.url);
    let id = rt.block_on(async {
        let files = upload_frames(&c, &acme, N).await;
        let body = json!({ "workflow": cutout(&files[0]), "files": files, "bind": "load.path", "chunk": 2,
            "max_attempts": 9, "account": "studio" });
        let (status, run) = c.post("/v1/farm/runs", &acme, &body).await;
        assert_eq!(status, 201, "{run}");
        run["id"].as_str().unwrap().to_string()
    });
    let mut workers: Vec<(String, Child)> =
        (0..2).map(|i| remote_worker(&paid, &server, &worker_key, &format!("r{i}"), &[])).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = |tasks: &[switchyard_session::farm::TaskRow]| tasks.iter().filter(|t| t.state == "done").count();
    while done(&rt.block_on(farm.tasks(&id)).unwrap()) < 3 {
        assert!(Instant::now() < deadline, "the batch never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    proxy.cut();
    std::thread::sleep(Duration::from_secs(3));
    proxy.restore();
    let finished = rt.block_on(wait_done(&c, &acme, &id));
    for (_, child) in &mut workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(finished["state"], "done", "{finished}");
    assert!(rt.block_on(farm.blocklist()).unwrap().is_empty(), "the outage is blamed on no worker");
    rt.block_on(async {
        let (_, listed) = c.get(&format!("/v1/farm/runs/{id}/files"), &acme).await;
        assert_eq!(listed["files"].as_array().map(Vec::len), Some(N), "every frame once: {listed}");
    });
    let (calls, posted, unknown) = check_books(&paid, N);
    eprintln!("{calls} calls, {posted} posted, {unknown} unknown across the outage");
}

/// Frames cut out on the mock's Recraft: one paid call a frame.
fn cutout(first: &str) -> Value {
    json!({ "format": "switchyard.workflow", "version": 1, "name": "cut out frames",
        "nodes": {
            "load": { "type": "image.load", "params": { "path": first } },
            "cutout": { "type": "cloud.remove_background", "params": { "provider": "recraft:remove-background" },
                "inputs": { "image": "load.image" } },
            "save": { "type": "image.save", "params": { "path": "{item}.png" }, "inputs": { "image": "cutout.image" } }
        } })
}

/// Credits posted for acme/studio's paid calls.
fn spent(paid: &Paid) -> i64 {
    let holds = paid.holds_of("acme/studio");
    holds.iter().filter(|h| h["kind"] == "call").map(|h| h["posted"].as_i64().unwrap_or(0)).sum()
}
