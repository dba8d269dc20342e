//! Stripe-format webhooks against a real server: signed deliveries apply once, bad or stale
//! signatures are refused, dunning suspends an account's new runs, a dispute goes to the
//! review queue that only the platform's operator decides, and every tenant sees only its
//! own reviews and audit trail.

use serde_json::{Value, json};
use switchyard_ops::stripe::sign;

use super::support::{Client, create_key, serve_with, shot};

const SECRET: &str = "whsec_test_endpoint_secret";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(crate::spend::root().join(format!("ops/tests/fixtures/stripe/{name}.json"))).unwrap()
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Posts `body` to the webhook with `signature` (none when `None`).
async fn deliver(c: &Client, body: &[u8], signature: Option<String>) -> (u16, Value) {
    let mut req = c.http.post(format!("{}/v1/billing/stripe/webhook", c.url)).body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let reply = req.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn signed(c: &Client, body: &[u8]) -> (u16, Value) {
    deliver(c, body, Some(sign(SECRET, now_s(), body))).await
}

#[test]
fn stripe_webhooks_apply_once_and_drive_dunning_disputes_and_reviews() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let admin = create_key(&data, "acme", "admin");
    let rival = create_key(&data, "rival", "billing");
    let operator = create_key(&data, "ops", "operator");
    let mut cmd = farm.cmd();
    cmd.env("SWITCHYARD_STRIPE_WEBHOOK_SECRET", format!("whsec_old,{SECRET}"));
    let server = serve_with(cmd, &data, &["--dunning-grace-days", "0", "--metrics-listen", "127.0.0.1:0"]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let checkout = fixture("checkout.session.completed");

        // Signatures: missing, another secret, stale, altered body: refused, nothing granted.
        let t = now_s();
        let refusals = [
            (None, "no Stripe-Signature"),
            (Some(sign("whsec_wrong", t, &checkout)), "no v1 signature matches"),
            (Some(sign(SECRET, t - 301, &checkout)), "beyond the 300 s tolerance"),
            (Some(sign(SECRET, t, b"{}")), "no v1 signature matches"),
            (Some("t=x,v1=00".into()), "malformed"),
        ];
        for (signature, says) in refusals {
            let (status, reply) = deliver(&c, &checkout, signature).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("bad-signature")), "{says}: {reply}");
            assert!(reply["error"]["message"].as_str().unwrap().contains(says), "{says}: {reply}");
        }
        assert_eq!(c.get("/v1/credits/studio", &admin).await.0, 404, "no refused delivery made the account");

        // The checkout grants its pack once, however often it comes.
        let (status, first) = signed(&c, &checkout).await;
        assert_eq!(
            (status, first["granted"].as_i64(), first["replayed"].as_bool()),
            (200, Some(500), Some(false)),
            "{first}"
        );
        let (status, again) = signed(&c, &checkout).await;
        assert_eq!((status, again["replayed"].as_bool()), (200, Some(true)), "{again}");
        let (_, wallet) = c.get("/v1/credits/studio", &admin).await;
        assert_eq!(wallet["available"], 500, "{wallet}");

        // A checkout for a tenant this server does not have, and an invoice of an unbound
        // customer (409, so Stripe retries it later).
        let ghost = String::from_utf8(checkout.clone())
            .unwrap()
            .replace("acme/studio", "ghost/main")
            .replace("evt_1Q0checkout", "evt_ghost");
        let (status, reply) = signed(&c, ghost.as_bytes()).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("bad-wallet")), "{reply}");
        let stranger = String::from_utf8(fixture("invoice.payment_failed")).unwrap().replace("cus_acme", "cus_nobody");
        let (status, reply) = signed(&c, stranger.as_bytes()).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("not-yet-known")), "{reply}");

        // A failed renewal with no grace suspends the account: its new runs are refused
        // before they start, with the reason.
        let (status, failed) = signed(&c, &fixture("invoice.payment_failed")).await;
        assert_eq!((status, failed["standing"].as_str()), (200, Some("past_due")), "{failed}");
        let (status, refused) = c.post("/v1/runs", &admin, &json!({ "workflow": shot(), "account": "studio" })).await;
        assert_eq!(status, 402, "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("suspended"), "{refused}");
        // The renewal paid: active again (and this month's pro grant).
        let (status, paid) = signed(&c, &fixture("invoice.paid")).await;
        assert_eq!((status, paid["standing"].as_str()), (200, Some("active")), "{paid}");
        let (_, audit) = c.get("/v1/billing/audit", &admin).await;
        let steps: Vec<_> = audit["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "dunning")
            .map(|a| a["to_state"].clone())
            .collect();
        assert_eq!(steps, [json!("past_due"), json!("active")], "{audit}");
        assert_eq!(c.get("/v1/billing/audit", &rival).await.1["audit"], json!([]), "the rival sees none of it");

        // A dispute freezes the paid credit and waits in the review queue.
        let (status, disputed) = signed(&c, &fixture("charge.dispute.created")).await;
        assert_eq!(status, 200, "{disputed}");
        let review = disputed["review"].as_str().unwrap().to_string();
        let (_, wallet) = c.get("/v1/credits/studio", &admin).await;
        assert_eq!(wallet["available"], 0, "paid credit is frozen: {wallet}");
        let (_, theirs) = c.get("/v1/billing/reviews?open=true", &admin).await;
        assert_eq!(theirs["reviews"][0]["id"], review.as_str(), "{theirs}");
        assert_eq!(c.get("/v1/billing/reviews?open=true", &rival).await.1["reviews"], json!([]));
        // Only the operator decides, and an operator key calls nothing else.
        let decide = format!("/v1/ops/reviews/{review}/decide");
        let clear = json!({ "decision": "clear", "note": "the cardholder withdrew the dispute" });
        assert_eq!(c.post(&decide, &admin, &clear).await.0, 403, "a tenant never clears its own review");
        assert_eq!(c.post("/v1/runs", &operator, &json!({ "workflow": shot() })).await.0, 403);
        let (_, queue) = c.get("/v1/ops/reviews", &operator).await;
        assert_eq!(queue["reviews"].as_array().unwrap().len(), 1, "{queue}");
        let (status, bad) = c.post(&decide, &operator, &json!({ "decision": "clear", "note": " " })).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("bad-field")), "{bad}");
        let (status, decided) = c.post(&decide, &operator, &clear).await;
        assert_eq!((status, decided["review"]["state"].as_str()), (200, Some("cleared")), "{decided}");
        assert_eq!(c.post(&decide, &operator, &clear).await.0, 409, "decided once");
        assert_eq!(c.post("/v1/ops/reviews/rev_none/decide", &operator, &clear).await.0, 404);
        let (_, wallet) = c.get("/v1/credits/studio", &admin).await;
        assert_eq!(wallet["available"], 20_500, "unfrozen: the pack and the month's pro grant: {wallet}");

        // A refund takes back the pack's unspent credit.
        let (status, refunded) = signed(&c, &fixture("charge.refunded")).await;
        assert_eq!((status, refunded["clawed_back"].as_i64()), (200, Some(500)), "{refunded}");
        let metrics = c.http.get(server.metrics.clone().unwrap()).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("switchyard_payment_webhooks_refused_total 5"), "{metrics}");
    });
}
