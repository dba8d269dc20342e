//! Wallet administration over the API: a billing key grants plans, tops up packs once per
//! payment and caps team members; a member's key spends as its member; roles hold only their
//! own permissions; and another tenant names none of it.

use serde_json::json;

use super::support::{Client, create_key, serve_with, shot};

#[test]
fn billing_keys_grant_top_up_and_cap_members_and_a_members_key_spends_as_them() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let admin = create_key(&data, "acme", "admin");
    let rival = create_key(&data, "rival", "billing");
    let server = serve_with(farm.cmd(), &data, &["--metrics-listen", "127.0.0.1:0"]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let key = |role: &'static str, member: Option<&'static str>| {
            let c = &c;
            let admin = &admin;
            async move {
                let (status, made) = c.post("/v1/keys", admin, &json!({ "role": role, "member": member })).await;
                assert_eq!(status, 201, "{made}");
                assert_eq!(made["key"]["member"].as_str(), member);
                made["token"].as_str().unwrap().to_string()
            }
        };
        let (billing, runner, ana) =
            (key("billing", None).await, key("runner", None).await, key("runner", Some("ana")).await);

        // Grants and top-ups are billing's: a runner may not, and billing runs nothing.
        let pro = json!({ "plan": "pro" });
        assert_eq!(c.post("/v1/accounts/studio/grants", &runner, &pro).await.0, 403);
        let (status, granted) = c.post("/v1/accounts/studio/grants", &billing, &pro).await;
        assert_eq!(status, 201, "{granted}");
        assert_eq!((granted["amount"].as_i64(), granted["wallet"]["tier"].as_i64()), (Some(20_000), Some(2)));
        let (_, again) = c.post("/v1/accounts/studio/grants", &billing, &pro).await;
        assert_eq!(again["wallet"]["available"], 20_000, "the month's grant is a replay: {again}");
        let pack = json!({ "pack": "500", "payment_id": "pay_1" });
        for _ in 0..2 {
            let (status, topped) = c.post("/v1/accounts/studio/topups", &billing, &pack).await;
            assert_eq!(status, 201, "{topped}");
            assert_eq!(topped["wallet"]["available"], 20_500, "once per payment: {topped}");
        }
        let other = json!({ "pack": "100", "payment_id": "pay_1" });
        let (status, reused) = c.post("/v1/accounts/studio/topups", &billing, &other).await;
        assert_eq!((status, reused["error"]["code"].as_str()), (409, Some("payment-id-reused")), "{reused}");
        let (status, theirs) = c.post("/v1/accounts/rivalry/topups", &rival, &pack).await;
        assert_eq!((status, theirs["wallet"]["available"].as_i64()), (201, Some(500)), "rival's own pay_1: {theirs}");
        for (body, what) in
            [(json!({ "plan": "gold" }), "no plan"), (json!({ "pack": "7", "payment_id": "p" }), "no pack")]
        {
            let path = if body.get("plan").is_some() { "grants" } else { "topups" };
            let (status, reply) = c.post(&format!("/v1/accounts/studio/{path}"), &billing, &body).await;
            assert_eq!(status, 400, "{what}: {reply}");
            assert!(reply["error"]["message"].as_str().unwrap().contains(what), "{reply}");
        }
        let (status, _) = c.post("/v1/runs", &billing, &json!({ "workflow": shot() })).await;
        assert_eq!(status, 403, "billing runs nothing");

        // The tenant's accounts; the rival sees only its own.
        let (_, accounts) = c.get("/v1/accounts", &runner).await;
        assert_eq!(accounts["accounts"][0]["account"], "studio", "{accounts}");
        assert_eq!(accounts["accounts"].as_array().unwrap().len(), 1, "{accounts}");
        let (_, theirs) = c.get("/v1/accounts", &rival).await;
        assert_eq!(theirs["accounts"].as_array().unwrap().len(), 1, "{theirs}");
        assert_eq!(theirs["accounts"][0]["account"], "rivalry", "{theirs}");
        assert_eq!(theirs["accounts"][0]["available"], 500, "{theirs}");

        // Members: a cap below the shot's 67-111 cr (74 at list price; the windows of the day
        // move it) refuses ana's run before it starts.
        assert_eq!(c.put("/v1/accounts/studio/members/ana", &runner, &json!({ "cap": 50 })).await.0, 403);
        assert_eq!(c.put("/v1/accounts/studio/members/ana", &rival, &json!({ "cap": 50 })).await.0, 404);
        let (status, member) = c.put("/v1/accounts/studio/members/ana", &billing, &json!({ "cap": 50 })).await;
        assert_eq!((status, member["cap"].as_i64()), (200, Some(50)), "{member}");
        let body = json!({ "workflow": shot(), "account": "studio" });
        let (status, refused) = c.post("/v1/runs", &ana, &body).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (402, Some("does-not-fit")), "{refused}");
        let as_bob = json!({ "workflow": shot(), "account": "studio", "member": "bob" });
        assert_eq!(c.post("/v1/runs", &ana, &as_bob).await.0, 403, "ana's key spends as ana only");
        let (status, unnamed) = c.post("/v1/runs", &runner, &body).await;
        assert_eq!(status, 400, "a team account is spent only by a named member: {unnamed}");
        assert!(unnamed["error"]["message"].as_str().unwrap().contains("team account"), "{unnamed}");
        c.put("/v1/accounts/studio/members/ana", &billing, &json!({ "cap": 200 })).await;
        // One busy answer from Runway on the way: retried, and counted for the operator.
        farm.mock.script("runway.create", [switchyard_mock::Fault::status(503)]);
        let (status, run) = c.post("/v1/runs", &ana, &body).await;
        assert_eq!(status, 201, "{run}");
        let done = c.wait_for(&ana, run["id"].as_str().unwrap(), &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let charged = done["summary"]["credits"]["charged"].as_i64().unwrap();
        let (_, members) = c.get("/v1/accounts/studio/members", &runner).await;
        assert_eq!(members["members"][0]["spent"], charged, "ana's spend counts against her cap: {members}");
        assert_eq!(c.get("/v1/accounts/studio/members", &rival).await.0, 404);
        let metrics = c.http.get(server.metrics.clone().unwrap()).send().await.unwrap().text().await.unwrap();
        let wants = [
            "switchyard_provider_errors_total{provider=\"runway\",status=\"503\"} 1".to_string(),
            format!("switchyard_credits_posted_total {charged}"),
            "switchyard_credits_held 0".into(),
        ];
        for want in wants {
            assert!(metrics.contains(&want), "{want} in:\n{metrics}");
        }
    });
}
