//! A monthly statement from a real ledger: opening and closing balances that agree with
//! the movements between them, grants, top-ups, spend per provider and member, breakage,
//! rollover and claw-backs, and its CSV and HTML.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_ledger::plans::Plans;
use switchyard_ledger::{Audit, Credits, Dunning, Grant, HoldRequest, Ledger, PaymentAction, PaymentEvent, Source};
use switchyard_ops::statement;

/// 2026-11-01T00:00:00Z.
const NOV_1: i64 = 1_793_491_200_000;
const DAY: i64 = 86_400_000;

#[tokio::test]
async fn a_statement_accounts_for_every_movement_of_the_month() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOV_1 - 5 * DAY));
    let clock = Arc::clone(&now);
    let ledger = Ledger::open(&dir.path().join("l.db"))
        .await
        .unwrap()
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let plans = Plans::builtin();
    // October: a promotion that expires on Nov 10, and 100 cr already there.
    let promo = Grant {
        wallet: "studio".into(),
        amount: Credits(300),
        source: Source::Promo,
        expires_at_ms: Some(NOV_1 + 10 * DAY),
        reason: "promo:welcome".into(),
        rollover_cap: 0,
    };
    ledger.grant(&promo, "promo").await.unwrap();
    // November: a pro grant, a pack bought and half refunded, spend by two members.
    now.store(NOV_1 + DAY, Ordering::SeqCst);
    ledger.grant_plan("studio", "pro", &plans.plans["pro"], 1, None).await.unwrap();
    let topup = PaymentEvent {
        id: "evt_1".into(),
        kind: "checkout.session.completed".into(),
        action: PaymentAction::TopUp {
            wallet: "studio".into(),
            customer: None,
            pack: "500".into(),
            payment: "pi_1".into(),
            paid_minor: 4_500,
            currency: "usd".into(),
        },
    };
    ledger.apply_payment(&topup, &plans, Dunning::default()).await.unwrap();
    ledger.set_member_cap("studio", "ana", Credits(10_000)).await.unwrap();
    ledger.set_member_cap("studio", "bo", Credits(10_000)).await.unwrap();
    for (member, provider, amount) in [("ana", "bfl", 120), ("bo", "openai", 80), ("ana", "openai", 40)] {
        let req = HoldRequest {
            wallet: "studio".into(),
            amount: Credits(amount),
            timeout_ms: 60_000,
            audit: Audit { provider: Some(provider.into()), ..Audit::default() },
            member: Some(member.into()),
            parent: None,
        };
        let key = format!("{member}-{provider}");
        let hold = ledger.hold(&req, &key).await.unwrap();
        ledger.post(&hold, Credits(amount), Credits(amount * 3 / 4), Some("v"), &format!("{key}-p")).await.unwrap();
    }
    let refund = PaymentEvent {
        id: "evt_2".into(),
        kind: "charge.refunded".into(),
        action: PaymentAction::Refunded { payment: "pi_1".into(), refunded_minor: 2_250 },
    };
    ledger.apply_payment(&refund, &plans, Dunning::default()).await.unwrap();
    now.store(NOV_1 + 11 * DAY, Ordering::SeqCst);
    ledger.expire_grants().await.unwrap();

    let s = statement::statement(&ledger, "studio", "2026-11").await.unwrap();
    assert_eq!(s.opening, 300);
    assert_eq!(s.grants.values().sum::<i64>(), 20_000, "{:?}", s.grants);
    assert_eq!(s.topups.get("pack:500"), Some(&500));
    assert_eq!(s.spend_by_provider.get("bfl"), Some(&120));
    assert_eq!(s.spend_by_provider.get("openai"), Some(&120));
    assert_eq!(s.spend_by_member.get("ana"), Some(&160), "{:?}", s.spend_by_member);
    assert_eq!(s.spend_by_member.get("bo"), Some(&80));
    assert_eq!(s.clawed_back, 250);
    assert!(s.breakage > 0, "the promotion's unspent part expired: {s:?}");
    let moved =
        s.grants.values().sum::<i64>() + s.topups.values().sum::<i64>() - s.spent() - s.breakage - s.clawed_back;
    assert_eq!(s.closing, s.opening + moved, "the movements explain the balances");
    assert_eq!(s.closing, ledger.balance("studio").await.unwrap().posted.0);
    let csv = statement::csv(&s);
    assert!(csv.starts_with("section,key,credits\nbalance,opening,300\n"), "{csv}");
    assert!(csv.contains("spend_member,ana,160") && csv.contains("clawback,refunds and disputes,250"), "{csv}");
    let html = statement::html(&s);
    assert!(html.contains("Statement for studio, 2026-11") && !html.contains("<script"), "{html}");
    assert!(statement::statement(&ledger, "nobody", "2026-11").await.is_err(), "a misspelt account is an error");
}
