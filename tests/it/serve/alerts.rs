//! Usage alerts against a real server and a real receiver: a wallet crossing 50% of its
//! month sends `credit_balance_dropped` once, signed with the tenant's secret, retried with
//! the same idempotency key after the receiver fails, and shown in the tenant's deliveries
//! only; URLs into the server's own network are refused unless the operator allows them.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchyard_ops::stripe::verify;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{Client, create_key, serve_with, shot};

/// A receiver that fails its first request and takes the rest, keeping each one.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let kept = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let first = {
                let mut all = kept.lock().unwrap();
                all.push((head, body));
                all.len() == 1
            };
            let status = if first { "500 Internal Server Error" } else { "200 OK" };
            let _ = socket
                .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes())
                .await;
        }
    });
    (url, seen)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

#[test]
fn a_crossed_threshold_is_delivered_once_signed_and_retried() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let admin = create_key(&data, "acme", "admin");
    let rival = create_key(&data, "rival", "admin");
    let rt = crate::support::runtime();
    let (url, seen) = rt.block_on(receiver());
    let guarded = serve_with(farm.cmd(), &data.join("guarded"), &[]);
    let server = serve_with(farm.cmd(), &data, &["--alerts-interval-ms", "100", "--alert-webhooks-private"]);
    let secret = rt.block_on(async {
        let admin_elsewhere = create_key(&data.join("guarded"), "acme", "admin");
        let (status, refused) = Client::new(&guarded.url)
            .send(
                reqwest::Method::PUT,
                "/v1/billing/alerts",
                Some(&admin_elsewhere),
                Some(json!({ "url": url }).to_string().into_bytes()),
            )
            .await;
        assert_eq!(status, 400, "a loopback URL on a server that allows none: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("not a public address"), "{refused}");

        let c = Client::new(&server.url);
        for (body, says) in [
            (json!({ "url": "ftp://x/y" }), "http or https"),
            (json!({ "url": url, "thresholds": [0] }), "percent from 1 to 100"),
        ] {
            let (status, reply) = c.put("/v1/billing/alerts", &admin, &body).await;
            assert_eq!(status, 400, "{reply}");
            assert!(reply["error"]["message"].as_str().unwrap().contains(says), "{reply}");
        }
        let (status, set) = c.put("/v1/billing/alerts", &admin, &json!({ "url": url, "thresholds": [50, 100] })).await;
        assert_eq!(status, 200, "{set}");
        let secret = set["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        // 100 credits, and a 74-credit shot: 74% of the month's credit used.
        let pack = json!({ "pack": "100", "payment_id": "pay_small" });
        assert_eq!(c.post("/v1/accounts/small/topups", &admin, &pack).await.0, 201);
        let (status, run) = c.post("/v1/runs", &admin, &json!({ "workflow": shot(), "account": "small" })).await;
        assert_eq!(status, 201, "{run}");
        let done = c.wait_for(&admin, run["id"].as_str().unwrap(), &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let mut deliveries = Value::Null;
        for _ in 0..200 {
            deliveries = c.get("/v1/billing/alerts", &admin).await.1;
            let first = &deliveries["deliveries"][0];
            if first["state"] == "delivered" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let list = deliveries["deliveries"].as_array().unwrap();
        assert_eq!(list.len(), 1, "one event for the one threshold crossed: {deliveries}");
        let d = &list[0];
        assert_eq!(
            (d["event"].as_str(), d["state"].as_str(), d["attempts"].as_i64()),
            (Some("credit_balance_dropped"), Some("delivered"), Some(2)),
            "{d}"
        );
        assert!(deliveries["endpoint"].get("secret").is_none(), "the secret is shown once only");
        assert_eq!(c.get("/v1/billing/alerts", &rival).await.1["deliveries"], json!([]), "the rival sees none");
        secret
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "delivered after one failure");
    let keys: Vec<&str> = seen.iter().map(|(h, _)| header(h, "idempotency-key").unwrap()).collect();
    assert_eq!(keys[0], keys[1], "a retry carries the same idempotency key");
    let (head, body) = &seen[1];
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["data"]["threshold_pct"].as_i64(), event["data"]["wallet"].as_str()),
        (Some("credit_balance_dropped"), Some(50), Some("acme/small")),
        "{event}"
    );
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let signature = header(head, "switchyard-signature");
    assert!(verify(signature, body.as_bytes(), &[secret], now_s, 300).is_ok(), "signed with the tenant's secret");
}
