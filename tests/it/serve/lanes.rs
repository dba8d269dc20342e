//! Lanes: an off-peak run waits scheduled for the catalog's discounted window and is quoted
//! at its discount; an economy-route run yields to standard runs; a run whose wait is over its
//! limit switches as it asked.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::{Client, create_key, serve_with, shot, slow_workflow, workflow};

#[test]
fn off_peak_runs_wait_for_the_window_and_economy_runs_yield_to_standard_ones() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let admin = create_key(&data, "acme", "admin");
    // The off-peak window opens two hours from now, whatever the time of day.
    let hour = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 3600) % 24;
    let shipped = std::fs::read_to_string(crate::spend::root().join("catalog/data/catalog.toml")).unwrap();
    let window = format!("from_hour_utc = {}\nto_hour_utc = {}", (hour + 2) % 24, (hour + 2) % 24 + 1);
    assert!(shipped.contains("from_hour_utc = 2\nto_hour_utc = 6"), "the shipped off-peak window moved");
    let catalog = farm.dir.path().join("catalog.toml");
    std::fs::write(&catalog, shipped.replace("from_hour_utc = 2\nto_hour_utc = 6", &window)).unwrap();
    let catalog = catalog.display().to_string();
    let server = serve_with(farm.cmd(), &data, &["--workers", "1", "--catalog", &catalog]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/accounts/studio/grants", &admin, &json!({ "plan": "pro" })).await.0, 201);
        let billed = |extra: Value| {
            let mut body = json!({ "workflow": shot(), "account": "studio" });
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        // Off-peak: quoted at the window's discount (or the same, inside it), and scheduled.
        let (_, now) = c.post("/v1/quote", &admin, &billed(json!({}))).await;
        let (_, later) = c.post("/v1/quote", &admin, &billed(json!({ "when": "off-peak" }))).await;
        assert!(later["quote"]["max"].as_i64() <= now["quote"]["max"].as_i64(), "{later} against {now}");
        let (status, off) = c.post("/v1/runs", &admin, &billed(json!({ "when": "off-peak" }))).await;
        assert_eq!(status, 201, "{off}");
        let off_id = off["id"].as_str().unwrap();
        let start = off["not_before_ms"].as_i64().expect("a start time");
        assert_eq!(off["state"], "scheduled", "{off}");
        let now_ms = off["submitted_at_ms"].as_i64().unwrap();
        assert!(start > now_ms + 3_600_000 && start <= now_ms + 2 * 3_600_000, "in about two hours: {off}");
        assert_eq!(start % 3_600_000, 0, "on the hour the window opens: {off}");
        assert!(off["expected_start_ms"].as_i64().unwrap() >= start, "{off}");
        assert!(later["quote"]["max"].as_i64() < now["quote"]["max"].as_i64(), "{later} against {now}");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (_, still) = c.get(&format!("/v1/runs/{off_id}"), &admin).await;
        assert_eq!(still["state"], "scheduled", "it waits for its window: {still}");
        let (_, listed) = c.get("/v1/runs?state=scheduled", &admin).await;
        assert_eq!(listed["runs"][0]["id"], off_id, "{listed}");
        let (_, published) = c.get("/v1/catalog", &admin).await;
        let hours = published["schedule"][1]["from_hour_utc"].as_u64();
        assert_eq!(hours, Some((hour + 2) % 24), "the server publishes the catalog it prices with");
        let (_, cancelled) = c.post(&format!("/v1/runs/{off_id}/cancel"), &admin, &json!({})).await;
        assert_eq!(cancelled["state"], "cancelled", "a scheduled run cancels at once: {cancelled}");

        // Economy yields: submitted first while the queue is paused, it starts after the
        // standard run submitted after it.
        assert_eq!(c.post("/v1/queue/pause", &admin, &json!({})).await.0, 200);
        let (status, economy) = c.post("/v1/runs", &admin, &billed(json!({ "routes": ["economy"] }))).await;
        assert_eq!((status, economy["lane"].as_str()), (201, Some("economy")), "{economy}");
        let (_, dearer) = c.post("/v1/quote", &admin, &billed(json!({}))).await;
        assert!(economy["quote"]["max"].as_i64() < dearer["quote"]["max"].as_i64(), "the route's discount");
        let standard = c.submit(&admin, workflow()).await;
        assert_eq!(c.post("/v1/queue/resume", &admin, &json!({})).await.0, 200);
        let economy_id = economy["id"].as_str().unwrap();
        let e = c.wait_for(&admin, economy_id, &["succeeded", "failed"]).await;
        let s = c.wait_for(&admin, &standard, &["succeeded", "failed"]).await;
        assert_eq!((e["state"].as_str(), s["state"].as_str()), (Some("succeeded"), Some("succeeded")), "{e} {s}");
        assert!(s["started_at_ms"].as_i64() < e["started_at_ms"].as_i64(), "standard first: {s} {e}");

        // Over max_wait_s: cancel by default; wait, or switch to the economy route, if asked.
        let slow = c.submit(&admin, slow_workflow()).await;
        c.wait_for(&admin, &slow, &["running"]).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, _) = c.post("/v1/runs", &admin, &billed(json!({ "max_wait_s": 0 }))).await;
        assert_eq!(status, 503);
        let (status, waits) = c.post("/v1/runs", &admin, &billed(json!({ "max_wait_s": 0, "on_wait": "wait" }))).await;
        assert_eq!((status, waits["on_wait"].as_str(), waits["lane"].as_str()), (201, Some("wait"), Some("standard")));
        let switch = billed(json!({ "max_wait_s": 0, "on_wait": "economy" }));
        let (status, switched) = c.post("/v1/runs", &admin, &switch).await;
        assert_eq!((status, switched["on_wait"].as_str()), (201, Some("economy")), "{switched}");
        assert_eq!(switched["lane"], "economy", "{switched}");
        assert!(switched["quote"]["max"].as_i64() < waits["quote"]["max"].as_i64(), "{switched} {waits}");
        let (status, bad) = c.post("/v1/runs", &admin, &billed(json!({ "on_wait": "later" }))).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("bad-field")), "{bad}");
        for id in [&slow, waits["id"].as_str().unwrap(), switched["id"].as_str().unwrap()] {
            c.post(&format!("/v1/runs/{id}/cancel"), &admin, &json!({})).await;
        }
    });
}
