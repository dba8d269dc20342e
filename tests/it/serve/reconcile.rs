//! Reconciliation on a server: the nightly job reads a provider's export from the usage
//! inbox, stores its report and files the export away; the operator posts an export and
//! reads the reports; tenants' keys reach none of it.

use serde_json::{Value, json};

use super::support::{Client, create_key, serve_with, shot};

fn day(offset_days: i64) -> String {
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    switchyard_session::credits::day_name(now_s / 86_400 + offset_days)
}

#[test]
fn the_usage_inbox_and_the_operator_reconcile_exports_against_the_ledger() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let inbox = farm.dir.path().join("inbox");
    let admin = create_key(&data, "acme", "admin");
    let operator = create_key(&data, "ops", "operator");
    let server =
        serve_with(farm.cmd(), &data, &["--usage-inbox", inbox.to_str().unwrap(), "--reconcile-interval-s", "1"]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/accounts/studio/grants", &admin, &json!({ "plan": "pro" })).await.0, 201);
        let (_, run) = c.post("/v1/runs", &admin, &json!({ "workflow": shot(), "account": "studio" })).await;
        let done = c.wait_for(&admin, run["id"].as_str().unwrap(), &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        // What BFL was paid for, by id, from the wallet's audit trail.
        let (_, history) = c.get("/v1/credits/studio/history", &admin).await;
        let paid: Vec<(String, i64)> = history["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["provider"] == "bfl" && t["credit"] == "payable:bfl")
            .map(|t| (t["vendor_id"].as_str().unwrap().to_string(), t["amount"].as_i64().unwrap()))
            .collect();
        assert_eq!(paid.len(), 1, "{history}");
        let (id, cost) = &paid[0];
        let window = format!("{}_{}", day(-1), day(2));
        std::fs::create_dir_all(inbox.join("bfl")).unwrap();
        let export = format!("id,amount_usd\n{id},{:.3}\n", *cost as f64 * 0.005);
        std::fs::write(inbox.join("bfl").join(format!("{window}.csv")), export).unwrap();
        std::fs::write(inbox.join("bfl").join("not-a-window.csv"), "id,amount_usd\n").unwrap();
        let filed = inbox.join("done/bfl").join(format!("{window}.csv"));
        for _ in 0..100 {
            if filed.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(filed.exists(), "the nightly job filed the export away");
        let note = std::fs::read_to_string(inbox.join("failed/bfl/not-a-window.csv.error")).unwrap();
        assert!(note.contains("FROM_TO"), "{note}");
        let (status, list) = c.get("/v1/ops/reconciliations", &operator).await;
        assert_eq!(status, 200, "{list}");
        let stored = list["reconciliations"][0]["id"].as_str().unwrap().to_string();
        let (_, report) = c.get(&format!("/v1/ops/reconciliations/{stored}"), &operator).await;
        assert_eq!(
            (report["matched"].as_i64(), report["findings_total"].as_i64(), report["flagged"].as_bool()),
            (Some(1), Some(0), Some(false)),
            "{report}"
        );

        // The operator posts Runway's export, which bills a task the ledger never charged.
        let path = format!("/v1/ops/reconciliations?provider=runway&format=csv&from={}&to={}", day(-1), day(2));
        let body = b"id,amount_usd\ntask-never-charged,0.50\n".to_vec();
        let (status, posted) = c.send(reqwest::Method::POST, &path, Some(&operator), Some(body.clone())).await;
        assert_eq!(status, 200, "{posted}");
        let r: &Value = &posted["report"];
        assert!(r["flagged"].as_bool().unwrap() && r["vendor_only"].as_i64() == Some(1), "{posted}");
        assert_eq!(
            c.send(reqwest::Method::POST, &path, Some(&admin), Some(body.clone())).await.0,
            403,
            "a tenant's key"
        );
        let bad = path.replace(&day(-1), "yesterday");
        assert_eq!(c.send(reqwest::Method::POST, &bad, Some(&operator), Some(body)).await.0, 400);
        assert_eq!(c.get("/v1/ops/reconciliations/rec_none", &operator).await.0, 404);
    });
}
