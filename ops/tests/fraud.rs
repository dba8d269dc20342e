//! Fraud and velocity rules: each rule weighed on facts (a table), near-duplicate prompts
//! found by SimHash, and against a real ledger: a hit raises a review that pauses new
//! spending (never a run already admitted), and clearing it lets the wallet spend again.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_ledger::{Audit, Credits, Decision, Grant, HoldRequest, Ledger, LedgerError, Source, SpendFacts};
use switchyard_ops::fraud::{self, Admission, Rules};

const DAY: i64 = 86_400_000;

#[test]
fn each_rule_hits_on_its_own_facts() {
    let rules = Rules::default();
    let old = Some(30 * DAY);
    let facts = |age_ms, spent_today, daily_baseline, open_holds| SpendFacts {
        age_ms,
        spent_today,
        daily_baseline,
        open_holds,
    };
    let cases = [
        ("a quiet old account", facts(old, 100, 500.0, 2), 100, None),
        ("a new account under its cap", facts(Some(DAY), 4_000, 0.0, 0), 900, None),
        ("a new account over its daily cap", facts(Some(DAY), 4_000, 0.0, 0), 1_001, Some("new_account_daily_cap")),
        ("a wallet never made counts as new", facts(None, 0, 0.0, 0), 5_001, Some("new_account_daily_cap")),
        ("a spike over 5x the baseline", facts(old, 2_400, 500.0, 0), 200, Some("spend_spike")),
        ("a busy day at the baseline's 5x", facts(old, 2_400, 500.0, 0), 100, None),
        ("below the spike floor", facts(old, 1_900, 10.0, 0), 100, None),
        ("too many holds open", facts(old, 0, 500.0, 64), 1, Some("concurrent_holds")),
    ];
    for (name, facts, most, rule) in cases {
        let hit = fraud::weigh(&rules, &facts, &Admission { wallet: "w", most, prompts: &[] });
        assert_eq!(hit.as_ref().map(|h| h.rule), rule, "{name}: {hit:?}");
    }
}

#[test]
fn near_duplicate_prompts_count_with_exact_ones() {
    let rules = Rules { duplicate_prompts_per_hour: 3, ..Rules::default() };
    let base = "a red fox jumping over a frozen river at dawn, cinematic lighting, 35mm film grain";
    let recent = [fraud::mark(base), fraud::mark(&base.to_uppercase()), fraud::mark(&base.replace("red", "brown"))];
    assert_eq!(recent[0], recent[1], "case and spacing do not make a new prompt");
    // One word changed is 9 bits of 64 away; unrelated prompts are about 30.
    let hit = fraud::duplicates(&rules, &recent, &[fraud::mark(base)]).expect("the fourth copy in an hour");
    assert_eq!(hit.rule, "duplicate_prompts");
    assert!(hit.detail.contains("2 exact, 1 near"), "{}", hit.detail);
    let other = fraud::mark("a quiet harbour at night with fishing boats and lanterns reflected in still water");
    assert!(fraud::duplicates(&rules, &recent, &[other]).is_none(), "a different prompt is not a copy");
}

async fn ledger() -> (Ledger, Arc<AtomicI64>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_796_000_000_000));
    let clock = Arc::clone(&now);
    let ledger = Ledger::open(&dir.path().join("l.db"))
        .await
        .unwrap()
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let grant = Grant {
        wallet: "acme/main".into(),
        amount: Credits(100_000),
        source: Source::Pack,
        expires_at_ms: None,
        reason: "pack".into(),
        rollover_cap: 0,
    };
    ledger.grant(&grant, "g").await.unwrap();
    (ledger, now, dir)
}

fn spend(parent: Option<String>) -> HoldRequest {
    HoldRequest {
        wallet: "acme/main".into(),
        amount: Credits(10),
        timeout_ms: 60_000,
        audit: Audit::default(),
        member: None,
        parent,
    }
}

#[tokio::test]
async fn a_hit_pauses_new_spending_but_not_the_admitted_run_until_cleared() {
    let (ledger, now, _dir) = ledger().await;
    let rules = Rules { duplicate_prompts_per_hour: 3, new_account_days: 0, ..Rules::default() };
    let prompts = vec!["the same prompt, again and again".to_string()];
    let asked = Admission { wallet: "acme/main", most: 10, prompts: &prompts };
    let admitted = ledger.reserve_run("acme/main", None, Credits(100), 60_000, "run-1").await.unwrap();
    for _ in 0..3 {
        assert!(fraud::check_admission(&ledger, &rules, &asked).await.unwrap().is_none());
        now.fetch_add(1_000, Ordering::SeqCst);
    }
    let review = fraud::check_admission(&ledger, &rules, &asked).await.unwrap().expect("the fourth copy is a hit");
    assert_eq!((review.rule.as_str(), review.blocks, review.state.as_str()), ("duplicate_prompts", 1, "open"));
    let refused = ledger.hold(&spend(None), "h1").await;
    assert!(
        matches!(&refused, Err(LedgerError::SpendingPaused { why, .. }) if why.contains("duplicate_prompts")),
        "{refused:?}"
    );
    ledger.hold(&spend(Some(admitted.0.clone())), "h2").await.expect("the run admitted before goes on");
    ledger.decide_review(&review.id, Decision::Clear, "ops", "a batch of variations, as agreed").await.unwrap();
    ledger.hold(&spend(None), "h3").await.expect("cleared");
    // An hour later the copies no longer count.
    now.fetch_add(3_600_000, Ordering::SeqCst);
    assert!(fraud::check_admission(&ledger, &rules, &asked).await.unwrap().is_none());
}

#[tokio::test]
async fn top_ups_too_fast_are_held_for_review() {
    let (ledger, _now, _dir) = ledger().await;
    let rules = Rules { topups_per_hour: 2, ..Rules::default() };
    let plans = switchyard_ledger::plans::Plans::builtin();
    for i in 0..3 {
        let event = switchyard_ledger::PaymentEvent {
            id: format!("evt_{i}"),
            kind: "checkout.session.completed".into(),
            action: switchyard_ledger::PaymentAction::TopUp {
                wallet: "acme/main".into(),
                customer: Some("cus_1".into()),
                pack: "100".into(),
                payment: format!("pi_{i}"),
                paid_minor: 1_000,
                currency: "usd".into(),
            },
        };
        ledger.apply_payment(&event, &plans, Default::default()).await.unwrap();
        let review = fraud::check_topup(&ledger, &rules, "acme/main", Some("cus_1"), None).await.unwrap();
        assert_eq!(review.is_some(), i == 2, "the third top-up in an hour: {review:?}");
    }
    assert_eq!(ledger.balance("acme/main").await.unwrap().posted, Credits(100_300), "the credit stays granted");
}

#[tokio::test]
async fn one_card_topping_up_many_wallets_is_held_for_review() {
    let (ledger, _now, _dir) = ledger().await;
    let rules = Rules { topups_per_method_per_day: 2, ..Rules::default() };
    let plans = switchyard_ledger::plans::Plans::builtin();
    for (i, wallet) in ["acme/a", "acme/b", "acme/c"].into_iter().enumerate() {
        let topup = switchyard_ledger::PaymentAction::TopUp {
            wallet: wallet.into(),
            customer: Some(format!("cus_{i}")),
            pack: "100".into(),
            payment: format!("pi_{i}"),
            paid_minor: 1_000,
            currency: "usd".into(),
        };
        let charged =
            switchyard_ledger::PaymentAction::Charged { payment: format!("pi_{i}"), method: "card:same".into() };
        for (n, action) in [topup, charged].into_iter().enumerate() {
            let event = switchyard_ledger::PaymentEvent { id: format!("evt_{i}_{n}"), kind: "test".into(), action };
            ledger.apply_payment(&event, &plans, Default::default()).await.unwrap();
        }
        let review = fraud::check_topup(&ledger, &rules, wallet, None, Some("card:same")).await.unwrap();
        assert_eq!(
            review.as_ref().map(|r| r.rule.as_str()),
            (i == 2).then_some("topup_velocity"),
            "{wallet}: {review:?}"
        );
    }
    assert_eq!(ledger.method_of("pi_1").await.unwrap().as_deref(), Some("card:same"));
}
