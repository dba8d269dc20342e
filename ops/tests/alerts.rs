//! Usage alerts over a real ledger: each threshold of a wallet's month, a member's cap and a
//! monthly budget is queued once, a top-up recovers the wallet, the outbox retries with
//! backoff and gives up after its attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_ledger::{AlertEndpoint, Audit, Credits, Grant, HoldRequest, Ledger, Source};
use switchyard_ops::alerts;

async fn spend(ledger: &Ledger, member: &str, amount: i64, key: &str) -> Result<(), switchyard_ledger::LedgerError> {
    let req = HoldRequest {
        wallet: "acme/team".into(),
        amount: Credits(amount),
        timeout_ms: 60_000,
        audit: Audit { provider: Some("bfl".into()), ..Audit::default() },
        member: Some(member.into()),
        parent: None,
    };
    let hold = ledger.hold(&req, key).await?;
    ledger.post(&hold, Credits(amount), Credits(amount / 2), Some(key), &format!("{key}-p")).await?;
    Ok(())
}

#[tokio::test]
async fn thresholds_are_queued_once_and_recover_after_a_top_up() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_796_100_000_000));
    let clock = Arc::clone(&now);
    let ledger = Ledger::open(&dir.path().join("l.db"))
        .await
        .unwrap()
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let grant = |amount: i64, key: &'static str| {
        let g = Grant {
            wallet: "acme/team".into(),
            amount: Credits(amount),
            source: Source::Pack,
            expires_at_ms: None,
            reason: "pack".into(),
            rollover_cap: 0,
        };
        let ledger = ledger.clone();
        async move { ledger.grant(&g, key).await.unwrap() }
    };
    grant(1_000, "g1").await;
    ledger.set_member_cap("acme/team", "ana", Credits(500)).await.unwrap();
    ledger.set_member_cap("acme/team", "bo", Credits(5_000)).await.unwrap();
    ledger.set_alert_budget("acme/team", Some(400)).await.unwrap();
    let endpoint = AlertEndpoint {
        prefix: "acme/".into(),
        url: "https://hooks.invalid/x".into(),
        secret: "whsec_t".into(),
        thresholds: "50,80,100".into(),
    };
    ledger.set_alert_endpoint(&endpoint).await.unwrap();
    // 420 of 1,000: the wallet is at 42% (no event); ana at 84% of her 500 cap; the 400 cr
    // budget at 105%.
    spend(&ledger, "ana", 420, "s1").await.unwrap();
    assert_eq!(alerts::evaluate(&ledger).await.unwrap(), 5);
    assert_eq!(alerts::evaluate(&ledger).await.unwrap(), 0, "each crossing once");
    let events = |list: Vec<switchyard_ledger::Delivery>| {
        let mut e: Vec<(String, i64)> = list
            .iter()
            .map(|d| {
                let body: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
                (d.event.clone(), body["data"]["threshold_pct"].as_i64().unwrap_or(0))
            })
            .collect();
        e.sort();
        e
    };
    let expected = [
        ("budget_threshold_reached", 50),
        ("budget_threshold_reached", 80),
        ("budget_threshold_reached", 100),
        ("member_cap_threshold_reached", 50),
        ("member_cap_threshold_reached", 80),
    ];
    assert_eq!(events(ledger.deliveries("acme/", 100).await.unwrap()), expected.map(|(e, t)| (e.to_string(), t)));
    // 500 more: 920 of 1,000 used: the wallet crosses 50 and 80; a top-up recovers it.
    spend(&ledger, "bo", 500, "s2").await.unwrap();
    assert_eq!(alerts::evaluate(&ledger).await.unwrap(), 2);
    grant(10_000, "g2").await;
    now.fetch_add(1_000, Ordering::SeqCst);
    assert_eq!(alerts::evaluate(&ledger).await.unwrap(), 1);
    let all = ledger.deliveries("acme/", 100).await.unwrap();
    assert_eq!(all[0].event, "credit_balance_recovered");
    assert!(ledger.deliveries("rival/", 100).await.unwrap().is_empty());

    // The outbox: a failure retries later (5 s, doubling), the twelfth gives up.
    let due = ledger.due_deliveries(100).await.unwrap();
    assert_eq!(due.len(), 8);
    let id = due[0].id.clone();
    let t = now.load(Ordering::SeqCst);
    assert_eq!(alerts::retry_at(t, 0), Some(t + 5_000));
    assert_eq!(alerts::retry_at(t, 3), Some(t + 40_000));
    assert_eq!(alerts::retry_at(t, 11), None);
    ledger.delivery_attempted(&id, Err(("503", alerts::retry_at(t, 0)))).await.unwrap();
    assert_eq!(ledger.due_deliveries(100).await.unwrap().len(), 7, "not due until its retry time");
    now.fetch_add(5_000, Ordering::SeqCst);
    assert_eq!(ledger.due_deliveries(100).await.unwrap().len(), 8);
    ledger.delivery_attempted(&id, Err(("503", None))).await.unwrap();
    let failed = ledger.deliveries("acme/", 100).await.unwrap().into_iter().find(|d| d.id == id).unwrap();
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 2));
    assert!(alerts::parse_thresholds("80, 50,50").unwrap() == [50, 80]);
    assert!(alerts::parse_thresholds("0").is_err() && alerts::parse_thresholds("").is_err());
}
