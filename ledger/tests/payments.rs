//! Payments applied to wallets: each event once, top-ups and plan grants, dunning, refunds
//! that claw back what is unspent, disputes that freeze paid credit, and the review queue
//! that pauses new spending (never running work). Every case runs on SQLite and PostgreSQL.

use std::sync::atomic::Ordering;

use switchyard_ledger::plans::Plans;
use switchyard_ledger::{
    Audit, Credits, Decision, Dunning, Grant, HoldId, HoldRequest, LedgerError, PaymentAction, PaymentEvent,
    PaymentOutcome, Raise, Source, Standing,
};

#[macro_use]
mod common;
use common::*;

const DAY_MS: i64 = 86_400_000;

fn event(id: &str, action: PaymentAction) -> PaymentEvent {
    PaymentEvent { id: id.into(), kind: "test".into(), action }
}

fn top_up(wallet: &str, pack: &str, payment: &str, paid_minor: i64) -> PaymentAction {
    PaymentAction::TopUp {
        wallet: wallet.into(),
        customer: Some(format!("cus_{wallet}")),
        pack: pack.into(),
        payment: payment.into(),
        paid_minor,
        currency: "usd".into(),
    }
}

fn plan_paid(customer: &str, payment: &str, period_start_ms: i64) -> PaymentAction {
    PaymentAction::PlanPaid {
        customer: customer.into(),
        wallet: None,
        plan: Some("pro".into()),
        seats: 1,
        payment: Some(payment.into()),
        period_start_ms,
        paid_minor: 2_000,
        currency: "usd".into(),
    }
}

fn failed(customer: &str) -> PaymentAction {
    PaymentAction::PaymentFailed { customer: customer.into(), wallet: None, invoice: "in_1".into(), attempt: 1 }
}

async fn apply(f: &Fixture, id: &str, action: PaymentAction) -> PaymentOutcome {
    f.ledger.apply_payment(&event(id, action), &Plans::builtin(), Dunning::default()).await.unwrap()
}

fn spend(wallet: &str, amount: i64, parent: Option<&HoldId>) -> HoldRequest {
    HoldRequest {
        wallet: wallet.into(),
        amount: Credits(amount),
        timeout_ms: 60_000,
        audit: Audit::default(),
        member: None,
        parent: parent.map(|p| p.0.clone()),
    }
}

async fn available(f: &Fixture, wallet: &str) -> i64 {
    f.ledger.balance(wallet).await.unwrap().available.0
}

on_both! {
    /// A pack's checkout grants once: the same event again, a second event for the same
    /// payment, and the operator's top-up with that payment id all replay.
    fn a_payment_tops_up_once_however_often_it_is_delivered(f) {
        let first = apply(f, "evt_1", top_up("acme/main", "500", "pi_1", 500)).await;
        assert_eq!((first.granted, first.replayed, first.wallet.as_deref()), (Credits(500), false, Some("acme/main")));
        let again = apply(f, "evt_1", top_up("acme/main", "500", "pi_1", 500)).await;
        assert_eq!((again.replayed, again.granted), (true, Credits(500)), "the first outcome, marked replayed");
        let other = apply(f, "evt_2", top_up("acme/main", "500", "pi_1", 500)).await;
        assert_eq!(other.granted, Credits(0), "{}", other.effect);
        assert!(other.effect.contains("already granted"), "{}", other.effect);
        let plans = Plans::builtin();
        f.ledger.topup("acme/main", "500", &plans.packs["500"], "pi_1").await.unwrap();
        assert_eq!(available(f, "acme/main").await, 500);
        assert_eq!(f.ledger.total().await.unwrap(), 0);
    }
}

on_both! {
    /// Eight concurrent deliveries of one event grant once.
    fn concurrent_deliveries_of_one_event_grant_once(f) {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let ledger = f.ledger.clone();
                tokio::spawn(async move {
                    let e = event("evt_race", top_up("acme/main", "1000", "pi_race", 1_000));
                    ledger.apply_payment(&e, &Plans::builtin(), Dunning::default()).await.unwrap()
                })
            })
            .collect();
        let mut applied = 0;
        for t in tasks {
            applied += usize::from(!t.await.unwrap().replayed);
        }
        assert_eq!(applied, 1, "one delivery applied it, seven replayed it");
        assert_eq!(available(f, "acme/main").await, 1_000);
    }
}

on_both! {
    /// An invoice from a customer no wallet is bound to is refused unrecorded, so the
    /// processor's retry applies it once the checkout has bound the customer.
    fn an_invoice_before_its_customer_is_bound_is_applied_on_retry(f) {
        let paid = event("evt_inv", plan_paid("cus_acme/main", "pi_inv", f.now.load(Ordering::SeqCst)));
        let refused = f.ledger.apply_payment(&paid, &Plans::builtin(), Dunning::default()).await;
        assert!(matches!(refused, Err(LedgerError::UnknownCustomer(_))), "{refused:?}");
        apply(f, "evt_top", top_up("acme/main", "100", "pi_top", 100)).await;
        let retried = f.ledger.apply_payment(&paid, &Plans::builtin(), Dunning::default()).await.unwrap();
        assert_eq!((retried.granted, retried.replayed), (Credits(20_000), false), "{}", retried.effect);
        assert_eq!(f.ledger.plan_of("acme/main").await.unwrap(), Some(("pro".into(), 2)));
        // The same month by another event (a second invoice) does not grant again.
        let month_again = apply(f, "evt_inv2", plan_paid("cus_acme/main", "pi_inv2", f.now.load(Ordering::SeqCst))).await;
        assert_eq!(month_again.granted, Credits(0), "{}", month_again.effect);
        assert_eq!(available(f, "acme/main").await, 20_100);
    }
}

on_both! {
    /// Dunning: a failed renewal makes the wallet past due (still spending), the grace
    /// period's end suspends it (no new holds, but an admitted run's nodes go on), and a
    /// paid invoice makes it active again; every transition is in the audit trail.
    fn dunning_suspends_after_the_grace_period_and_payment_restores(f) {
        apply(f, "evt_top", top_up("acme/main", "1000", "pi_top", 1_000)).await;
        let past_due = apply(f, "evt_fail", failed("cus_acme/main")).await;
        assert_eq!(past_due.standing, Some(Standing::PastDue));
        f.ledger.hold(&spend("acme/main", 10, None), "k1").await.expect("past due still spends");
        let run = f.ledger.reserve_run("acme/main", None, Credits(100), 10 * DAY_MS, "run-1").await.unwrap();
        f.now.fetch_add(3 * DAY_MS, Ordering::SeqCst);
        assert_eq!(f.ledger.standing("acme/main").await.unwrap(), Standing::Suspended);
        let refused = f.ledger.hold(&spend("acme/main", 10, None), "k2").await;
        assert!(matches!(&refused, Err(LedgerError::SpendingPaused { why, .. }) if why.contains("suspended")), "{refused:?}");
        let refused = f.ledger.reserve_run("acme/main", None, Credits(10), 60_000, "run-2").await;
        assert!(matches!(refused, Err(LedgerError::SpendingPaused { .. })), "a new run is not admitted");
        f.ledger.hold(&spend("acme/main", 10, Some(&run)), "k3").await.expect("the admitted run's node goes on");
        f.ledger.hold(&spend("acme/main", 500, Some(&run)), "k4").await.expect("even past its reservation");
        assert_eq!(f.ledger.sweep_dunning().await.unwrap(), ["acme/main"]);
        assert!(f.ledger.sweep_dunning().await.unwrap().is_empty(), "swept once");
        let paid = apply(f, "evt_paid", plan_paid("cus_acme/main", "pi_renew", f.now.load(Ordering::SeqCst))).await;
        assert_eq!(paid.standing, Some(Standing::Active));
        f.ledger.hold(&spend("acme/main", 10, None), "k5").await.expect("active again");
        let trail: Vec<_> = f.ledger.billing_audit("acme/").await.unwrap().into_iter().filter(|a| a.kind == "dunning").collect();
        let steps: Vec<_> = trail.iter().map(|a| (a.from_state.clone().unwrap(), a.to_state.clone().unwrap())).collect();
        let expected = [("active", "past_due"), ("past_due", "suspended"), ("suspended", "active")];
        assert_eq!(steps, expected.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(trail[0].event_id.as_deref(), Some("evt_fail"));
    }
}

on_both! {
    /// A refund takes back what its payment's lot still has, and flags what was spent.
    fn a_refund_claws_back_the_unspent_and_flags_the_spent(f) {
        apply(f, "evt_top", top_up("acme/main", "1000", "pi_1", 1_000)).await;
        let hold = f.ledger.hold(&spend("acme/main", 300, None), "h").await.unwrap();
        f.ledger.post(&hold, Credits(300), Credits(200), Some("v1"), "p").await.unwrap();
        let half = apply(f, "evt_r1", PaymentAction::Refunded { payment: "pi_1".into(), refunded_minor: 500 }).await;
        assert_eq!((half.clawed_back, half.flagged), (Credits(500), Credits(0)), "{}", half.effect);
        let whole = apply(f, "evt_r2", PaymentAction::Refunded { payment: "pi_1".into(), refunded_minor: 1_000 }).await;
        assert_eq!((whole.clawed_back, whole.flagged), (Credits(200), Credits(300)), "{}", whole.effect);
        let review = f.ledger.review(whole.review.as_deref().unwrap()).await.unwrap();
        assert_eq!((review.rule.as_str(), review.blocks), ("refund_overspent", 0));
        assert_eq!(available(f, "acme/main").await, 0);
        assert_eq!(f.ledger.total().await.unwrap(), 0);
        let unknown = f.ledger.apply_payment(
            &event("evt_r3", PaymentAction::Refunded { payment: "pi_never".into(), refunded_minor: 5 }),
            &Plans::builtin(),
            Dunning::default(),
        ).await;
        assert!(matches!(unknown, Err(LedgerError::UnknownPayment(_))));
    }
}

on_both! {
    /// A dispute freezes the wallet's paid credit (promotional credit still spends) until
    /// a person decides: cleared unfreezes it; upheld claws back the disputed payment.
    fn a_dispute_freezes_paid_credit_until_reviewed(f) {
        apply(f, "evt_top", top_up("acme/main", "1000", "pi_1", 1_000)).await;
        let promo = Grant {
            wallet: "acme/main".into(),
            amount: Credits(50),
            source: Source::Promo,
            expires_at_ms: None,
            reason: "promo".into(),
            rollover_cap: 0,
        };
        f.ledger.grant(&promo, "promo-1").await.unwrap();
        let dispute = PaymentAction::Disputed { payment: "pi_1".into(), dispute: "dp_1".into(), reason: "fraudulent".into() };
        let opened = apply(f, "evt_d1", dispute.clone()).await;
        let balance = f.ledger.balance("acme/main").await.unwrap();
        assert_eq!((balance.available, balance.frozen), (Credits(50), Credits(1_000)));
        let refused = f.ledger.hold(&spend("acme/main", 60, None), "h1").await;
        assert!(matches!(refused, Err(LedgerError::InsufficientFunds { .. })), "{refused:?}");
        f.ledger.hold(&spend("acme/main", 40, None), "h2").await.expect("promotional credit spends");
        let review = opened.review.unwrap();
        f.ledger.decide_review(&review, Decision::Clear, "ops@acme", "won with evidence").await.unwrap();
        assert_eq!(available(f, "acme/main").await, 1_010);
        let lost = apply(f, "evt_d2", dispute).await;
        let decided = f.ledger.decide_review(lost.review.as_deref().unwrap(), Decision::Uphold, "ops", "lost").await.unwrap();
        assert_eq!(decided.state, "upheld");
        assert_eq!(available(f, "acme/main").await, 10, "the disputed pack's credit is taken back");
        assert!(f.ledger.decide_review(&review, Decision::Clear, "ops", "again").await.is_err(), "decided once");
        assert_eq!(f.ledger.total().await.unwrap(), 0);
    }
}

on_both! {
    /// A blocking review pauses new spending, names itself, and clearing it lifts the pause.
    fn a_blocking_review_pauses_new_spending_until_cleared(f) {
        apply(f, "evt_top", top_up("acme/main", "100", "pi_1", 100)).await;
        let raised = Raise { wallet: "acme/main", rule: "velocity_topup", detail: "5 top-ups in an hour", blocks: true, subject: None };
        let review = f.ledger.raise_review(&raised).await.unwrap();
        let refused = f.ledger.hold(&spend("acme/main", 10, None), "h1").await;
        assert!(matches!(&refused, Err(LedgerError::SpendingPaused { why, .. }) if why.contains(&review.id) && why.contains("velocity_topup")), "{refused:?}");
        assert_eq!(f.ledger.reviews("acme/", true).await.unwrap().len(), 1);
        assert!(f.ledger.reviews("other/", true).await.unwrap().is_empty(), "another tenant's queue is its own");
        f.ledger.decide_review(&review.id, Decision::Clear, "ops", "a real studio").await.unwrap();
        f.ledger.hold(&spend("acme/main", 10, None), "h2").await.expect("cleared");
        assert!(f.ledger.reviews("acme/", true).await.unwrap().is_empty());
    }
}

on_both! {
    /// A subscription's change sets the plan and tier; its end drops them and keeps credit.
    fn subscription_changes_set_and_drop_the_tier(f) {
        apply(f, "evt_top", top_up("acme/main", "100", "pi_1", 100)).await;
        let changed = PaymentAction::PlanChanged {
            customer: "cus_acme/main".into(),
            wallet: None,
            subscription: "sub_1".into(),
            plan: Some("pro-plus".into()),
            status: "active".into(),
        };
        apply(f, "evt_s1", changed).await;
        let tier = f.ledger.plan_of("acme/main").await.unwrap();
        assert_eq!(tier.as_ref().map(|t| t.0.as_str()), Some("pro-plus"));
        let ended = PaymentAction::PlanEnded { customer: "cus_acme/main".into(), wallet: None, subscription: "sub_1".into() };
        apply(f, "evt_s2", ended).await;
        assert_eq!(f.ledger.plan_of("acme/main").await.unwrap(), None);
        assert_eq!(available(f, "acme/main").await, 100);
        let unknown_plan = PaymentAction::PlanChanged {
            customer: "cus_acme/main".into(),
            wallet: None,
            subscription: "sub_1".into(),
            plan: Some("platinum".into()),
            status: "active".into(),
        };
        let refused = apply(f, "evt_s3", unknown_plan).await;
        assert!(refused.refused.as_deref().unwrap_or("").contains("platinum"), "{refused:?}");
        assert!(refused.review.is_some(), "a person looks at what could not be applied");
    }
}
