//! The ledger's behaviour: grants, spending order, two-phase holds, expiry into breakage,
//! idempotency, recovery, no overdraft under concurrency, and (property tests) that it always
//! sums to zero and never goes negative.

use std::sync::atomic::Ordering;

use proptest::prelude::*;
use switchyard_ledger::{Audit, Credits, Grant, HoldId, HoldRequest, LedgerError, Source, to_csv};

#[macro_use]
mod common;
use common::*;

fn grant(wallet: &str, amount: i64, source: Source, expires_at_ms: Option<i64>) -> Grant {
    Grant {
        wallet: wallet.into(),
        amount: Credits(amount),
        source,
        expires_at_ms,
        reason: format!("{}:{amount}", source.name()),
        rollover_cap: 0,
    }
}

fn hold(wallet: &str, amount: i64) -> HoldRequest {
    let audit = Audit {
        run_id: Some("run-1".into()),
        node_id: Some("gen".into()),
        provider: Some("bfl".into()),
        vendor_id: None,
    };
    HoldRequest {
        wallet: wallet.into(),
        amount: Credits(amount),
        timeout_ms: 60_000,
        audit,
        member: None,
        parent: None,
    }
}

on_both! {
    fn a_hold_posts_the_metered_charge_and_releases_the_rest(f) {
        let l = &f.ledger;
        l.grant(&grant("alice", 1000, Source::Pack, None), "g1").await.unwrap();
        let h = l.hold(&hold("alice", 300), "h1").await.unwrap();
        let b = l.balance("alice").await.unwrap();
        assert_eq!((b.posted, b.held, b.available), (Credits(1000), Credits(300), Credits(700)));
        let posted = l.post(&h, Credits(250), Credits(200), Some("task-42"), "p1").await.unwrap();
        assert_eq!((posted.charged, posted.released), (Credits(250), Credits(50)));
        let b = l.balance("alice").await.unwrap();
        assert_eq!((b.posted, b.held, b.available), (Credits(750), Credits(0), Credits(750)));
        assert_eq!(l.total().await.unwrap(), 0);
        let history = l.history(Some("alice")).await.unwrap();
        let charges: Vec<_> =
            history.iter().filter(|t| t.reason == "charge").map(|t| (t.credit.as_str(), t.amount)).collect();
        assert_eq!(charges, [("payable:bfl", Credits(200)), ("margin", Credits(50))]);
        assert!(
            history.iter().filter(|t| t.reason == "charge").all(|t| t.audit.vendor_id.as_deref() == Some("task-42"))
        );
        let csv = to_csv(&history);
        assert!(csv.lines().nth(2).unwrap().contains("run-1,gen,bfl,task-42,p1"), "{csv}");
        assert!(matches!(l.post(&h, Credits(1), Credits(0), None, "p2").await, Err(LedgerError::Settled { .. })));
        let h2 = l.hold(&hold("alice", 100), "h2").await.unwrap();
        assert!(matches!(l.post(&h2, Credits(101), Credits(0), None, "p3").await, Err(LedgerError::OverPost { .. })));
        l.void(&h2, "v2").await.unwrap();
        assert_eq!(l.balance("alice").await.unwrap().available, Credits(750));
    }
}

on_both! {
    fn spending_takes_the_earliest_expiry_first_then_promotional_before_paid(f) {
        let l = &f.ledger;
        l.grant(&grant("bob", 100, Source::Pack, None), "pack").await.unwrap();
        l.grant(&grant("bob", 100, Source::Plan, Some(5_000_000)), "plan").await.unwrap();
        l.grant(&grant("bob", 100, Source::Promo, Some(5_000_000)), "promo").await.unwrap();
        l.grant(&grant("bob", 50, Source::Plan, Some(2_000_000)), "early").await.unwrap();
        let h = l.hold(&hold("bob", 200), "h").await.unwrap();
        l.post(&h, Credits(200), Credits(200), None, "p").await.unwrap();
        let spent: Vec<(String, Credits)> = l
            .history(Some("bob"))
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.reason == "charge")
            .map(|t| (t.debit, t.amount))
            .collect();
        let want = [("lot:bob:early", 50), ("lot:bob:promo", 100), ("lot:bob:plan", 50)];
        assert_eq!(spent, want.map(|(lot, n)| (lot.to_string(), Credits(n))));
    }
}

on_both! {
    /// A plan that rolls over carries what is left, up to its cap, into a lot for the next month;
    /// the rest goes to breakage, and the carried lot can roll again under the same cap.
    fn rollover_carries_up_to_the_cap_and_the_rest_expires(f) {
        let l = &f.ledger;
        let nov_15 = 1_794_700_800_000; // 2026-11-15T00:00:00Z
        let (dec_1, jan_1) = (1_796_083_200_000, 1_798_761_600_000);
        f.now.store(nov_15, Ordering::SeqCst);
        let plans = switchyard_ledger::plans::Plans::builtin();
        let enterprise = &plans.plans["enterprise"];
        let mut capped = enterprise.clone();
        capped.rollover_cap = 300;
        let err = l.grant_plan("corp", "enterprise", enterprise, 1, None).await.unwrap_err();
        assert!(err.to_string().contains("give its monthly credits (--credits N)"), "{err}");
        l.grant_plan("corp", "enterprise", &capped, 1, Some(1000)).await.unwrap();
        let h = l.hold(&hold("corp", 200), "h").await.unwrap();
        l.post(&h, Credits(200), Credits(150), None, "p").await.unwrap();
        f.now.store(dec_1, Ordering::SeqCst);
        assert_eq!(l.expire_grants().await.unwrap(), Credits(500), "800 left: 300 roll over, 500 expire");
        assert_eq!(l.balance("corp").await.unwrap().available, Credits(300));
        f.now.store(jan_1, Ordering::SeqCst);
        assert_eq!(l.expire_grants().await.unwrap(), Credits(0), "the carried 300 fit the cap again");
        assert_eq!(l.balance("corp").await.unwrap().available, Credits(300));
        assert_eq!(l.total().await.unwrap(), 0);
    }
}

on_both! {
    /// Team pools: concurrent holds by one member never pass the member's monthly cap, whatever
    /// the pool holds; a void gives the room back; another member is unaffected; a new month
    /// starts from zero; batched holds keep the same rule.
    fn members_never_pass_their_caps_under_concurrency(f) {
        let l = &f.ledger;
        l.grant(&grant("team", 10_000, Source::Plan, None), "pool").await.unwrap();
        let err = l.set_member_cap("nobody", "alice", Credits(300)).await.unwrap_err();
        assert!(matches!(err, LedgerError::UnknownWallet(_)), "{err}");
        l.set_member_cap("team", "alice", Credits(300)).await.unwrap();
        l.set_member_cap("team", "bob", Credits(500)).await.unwrap();
        let as_member = |who: &str, n: i64| HoldRequest { member: Some(who.into()), ..hold("team", n) };
        let tries: Vec<_> = (0..8)
            .map(|i| {
                let (l, req) = (l.clone(), as_member("alice", 100));
                tokio::spawn(async move { l.hold(&req, &format!("a{i}")).await })
            })
            .collect();
        let mut admitted: Vec<HoldId> = Vec::new();
        for t in tries {
            match t.await.unwrap() {
                Ok(h) => admitted.push(h),
                Err(LedgerError::MemberCapReached { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(admitted.len(), 3, "300 of cap in 100s");
        let err = l.hold(&as_member("alice", 1), "a-more").await.unwrap_err();
        assert!(err.to_string().contains("alice has used 300 cr of a 300 cr monthly cap in team"), "{err}");
        assert!(l.hold(&as_member("bob", 500), "b1").await.is_ok(), "bob's cap is his own");
        let err = l.hold(&as_member("carol", 1), "c1").await.unwrap_err();
        assert!(matches!(err, LedgerError::UnknownMember { .. }), "{err}");
        l.void(&admitted[0], "v0").await.unwrap();
        l.post(&admitted[1], Credits(60), Credits(50), None, "p1").await.unwrap();
        let alice = l.member("team", "alice").await.unwrap();
        assert_eq!((alice.spent, alice.held), (60, 100));
        let batch = vec![(as_member("alice", 100), "m1".to_string()), (as_member("alice", 100), "m2".to_string())];
        let out = l.hold_many(&batch).await.unwrap();
        assert!(out[0].is_ok() && out[1].is_err(), "60 spent + 100 held + 100 fits 300; another 100 does not");
        f.now.store(1_000_000 + 40 * 86_400_000, Ordering::SeqCst);
        assert!(l.hold(&as_member("alice", 100), "next-month").await.is_ok(), "a new month starts from zero");
        assert_eq!(l.total().await.unwrap(), 0);
    }
}

on_both! {
    fn expired_grants_go_to_breakage_but_held_credit_stays_reserved(f) {
        let l = &f.ledger;
        l.grant(&grant("carol", 100, Source::Plan, Some(2_000_000)), "plan").await.unwrap();
        l.grant(&grant("carol", 40, Source::Pack, None), "pack").await.unwrap();
        let h = l.hold(&hold("carol", 30), "h").await.unwrap();
        f.now.store(2_000_000, Ordering::SeqCst);
        assert_eq!(l.expire_grants().await.unwrap(), Credits(70), "the unreserved 70 expire");
        assert_eq!(l.balance("carol").await.unwrap().available, Credits(40));
        l.post(&h, Credits(30), Credits(30), None, "p").await.unwrap();
        assert_eq!(l.total().await.unwrap(), 0);
        assert!(l.lowest_available().await.unwrap() >= 0);
    }
}

on_both! {
    fn idempotency_keys_replay_refuse_reuse_and_keep_failures(f) {
        let l = &f.ledger;
        l.grant(&grant("dan", 100, Source::Pack, None), "g").await.unwrap();
        let a = l.hold(&hold("dan", 60), "k").await.unwrap();
        let b = l.hold(&hold("dan", 60), "k").await.unwrap();
        assert_eq!(a, b, "a replay returns the first result");
        assert_eq!(l.balance("dan").await.unwrap().held, Credits(60), "and has no effect");
        assert!(matches!(l.hold(&hold("dan", 10), "k").await, Err(LedgerError::KeyReused(_))));
        let refused = l.hold(&hold("dan", 60), "k2").await.unwrap_err();
        assert!(matches!(refused, LedgerError::InsufficientFunds { .. }), "{refused}");
        l.grant(&grant("dan", 500, Source::Pack, None), "g2").await.unwrap();
        let again = l.hold(&hold("dan", 60), "k2").await.unwrap_err();
        assert!(matches!(again, LedgerError::KeyFailed { .. }), "a failed key stays failed: {again}");
        let p1 = l.post(&a, Credits(50), Credits(40), Some("v"), "post").await.unwrap();
        let p2 = l.post(&a, Credits(50), Credits(40), Some("v"), "post").await.unwrap();
        assert_eq!(p1, p2);
        assert_eq!(l.balance("dan").await.unwrap().posted, Credits(550));
    }
}

on_both! {
    fn recovery_voids_expired_holds_and_keeps_unknown_ones_open(f) {
        let l = &f.ledger;
        l.grant(&grant("erin", 100, Source::Pack, None), "g").await.unwrap();
        let _crashed = l.hold(&hold("erin", 30), "a").await.unwrap();
        let unknown = l.hold(&hold("erin", 20), "b").await.unwrap();
        l.mark_unknown(&unknown).await.unwrap();
        f.now.fetch_add(120_000, Ordering::SeqCst);
        let r = l.recover().await.unwrap();
        assert_eq!((r.voided, r.unknown), (1, 1));
        assert_eq!(l.balance("erin").await.unwrap().held, Credits(20), "the unknown outcome stays reserved");
        l.post(&unknown, Credits(20), Credits(15), Some("found-by-reconciliation"), "rec").await.unwrap();
        assert_eq!(l.balance("erin").await.unwrap().available, Credits(80));
    }
}

on_both! {
    fn concurrent_holds_never_overdraw(f) {
        let l = f.ledger.clone();
        l.grant(&grant("farm", 1000, Source::Pack, None), "g").await.unwrap();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let l = l.clone();
                tokio::spawn(async move { l.hold(&hold("farm", 30), &format!("run-{i}")).await })
            })
            .collect();
        let mut admitted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => admitted += 30,
                Err(LedgerError::InsufficientFunds { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(admitted, 990, "33 holds of 30 fit in 1000; the rest are refused");
        assert_eq!(l.balance("farm").await.unwrap().available, Credits(10));
    }
}

on_both! {
    /// Concurrent requests under one key make one hold; concurrent settlements of one hold,
    /// under different keys, charge it once.
    fn one_key_and_one_hold_are_each_used_once_under_concurrency(f) {
        let l = &f.ledger;
        l.grant(&grant("kay", 1_000, Source::Pack, None), "g").await.unwrap();
        let tries: Vec<_> = (0..16)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move { l.hold(&hold("kay", 100), "same-key").await })
            })
            .collect();
        let mut ids = std::collections::HashSet::new();
        for t in tries {
            ids.insert(t.await.unwrap().expect("a replay returns the first hold"));
        }
        assert_eq!(ids.len(), 1);
        assert_eq!(l.balance("kay").await.unwrap().held, Credits(100));
        let h = ids.into_iter().next().unwrap();
        let posts: Vec<_> = (0..16)
            .map(|i| {
                let (l, h) = (l.clone(), h.clone());
                tokio::spawn(async move { l.post(&h, Credits(60), Credits(50), None, &format!("post-{i}")).await })
            })
            .collect();
        let mut charged = 0;
        for p in posts {
            match p.await.unwrap() {
                Ok(_) => charged += 1,
                Err(LedgerError::Settled { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(charged, 1, "one charge, whoever wins");
        let b = l.balance("kay").await.unwrap();
        assert_eq!((b.posted, b.held), (Credits(940), Credits(0)));
        assert_eq!(l.total().await.unwrap(), 0);
    }
}

on_both! {
    fn a_batch_of_holds_behaves_like_the_same_holds_one_by_one(f) {
        let l = &f.ledger;
        l.grant(&grant("gus", 100, Source::Promo, Some(9_000_000)), "promo").await.unwrap();
        l.grant(&grant("gus", 100, Source::Pack, None), "pack").await.unwrap();
        let earlier = l.hold(&hold("gus", 10), "earlier").await.unwrap();
        let batch = vec![
            (hold("gus", 10), "earlier".to_string()),
            (hold("gus", 99), "earlier".to_string()),
            (hold("gus", 120), "a".to_string()),
            (hold("gus", 120), "a".to_string()),
            (hold("gus", 80), "b".to_string()),
            (hold("nobody", 1), "c".to_string()),
            (hold("gus", 0), "d".to_string()),
        ];
        let out = l.hold_many(&batch).await.unwrap();
        assert_eq!(out[0].as_ref().unwrap(), &earlier, "a replay of an earlier key");
        assert!(matches!(out[1], Err(LedgerError::KeyReused(_))));
        let a = out[2].as_ref().unwrap().clone();
        assert_eq!(out[3].as_ref().unwrap(), &a, "a key repeated inside the batch replays");
        assert!(matches!(out[4], Err(LedgerError::InsufficientFunds { available: Credits(70), .. })), "{:?}", out[4]);
        assert!(matches!(out[5], Err(LedgerError::UnknownWallet(_))));
        assert!(matches!(out[6], Err(LedgerError::InvalidAmount(_))));
        assert_eq!(l.balance("gus").await.unwrap().held, Credits(130));
        assert!(matches!(l.hold(&hold("gus", 80), "b").await, Err(LedgerError::KeyFailed { .. })), "refusals stay");
        let posted = l.post(&a, Credits(120), Credits(100), None, "pa").await.unwrap();
        assert_eq!(posted.charged, Credits(120));
        let spent: Vec<_> = l
            .history(Some("gus"))
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.reason == "charge")
            .map(|t| t.debit)
            .collect();
        assert!(spent.iter().all(|d| d == "lot:gus:promo" || d == "lot:gus:pack"));
        assert_eq!(l.total().await.unwrap(), 0);
        assert!(l.lowest_available().await.unwrap() >= 0);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Grant(i64, Option<i64>),
    Hold(i64),
    Post(usize, i64),
    Void(usize),
    Tick(i64),
    Expire,
    Replay(usize),
    Batch(Vec<i64>),
    MemberHold(i64),
    Reserve(i64),
    Carve(usize, i64),
    Release(usize),
    Unknown(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..500, proptest::option::of(1i64..100)).prop_map(|(a, e)| Op::Grant(a, e)),
        (1i64..400).prop_map(Op::Hold),
        (0usize..8, 0i64..400).prop_map(|(i, a)| Op::Post(i, a)),
        (0usize..8).prop_map(Op::Void),
        (1i64..60).prop_map(Op::Tick),
        Just(Op::Expire),
        (0usize..8).prop_map(Op::Replay),
        proptest::collection::vec(0i64..200, 1..6).prop_map(Op::Batch),
        (1i64..200).prop_map(Op::MemberHold),
        (1i64..400).prop_map(Op::Reserve),
        (0usize..4, 1i64..200).prop_map(|(i, a)| Op::Carve(i, a)),
        (0usize..4).prop_map(Op::Release),
        (0usize..8).prop_map(Op::Unknown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// After any sequence of operations the ledger sums to zero, no ordinary account is
    /// negative, replaying a key changes nothing, and a member never passes their cap.
    #[test]
    fn the_ledger_balances_after_any_sequence_on_sqlite(ops in proptest::collection::vec(op(), 1..40)) {
        rt().block_on(balances_after(Store::Sqlite, ops));
    }

    #[test]
    fn the_ledger_balances_after_any_sequence_on_postgres(ops in proptest::collection::vec(op(), 1..40)) {
        rt().block_on(balances_after(Store::Postgres, ops));
    }
}

/// The property: after `ops` the ledger sums to zero, no ordinary account is negative,
/// replaying a key changes nothing, a member never passes their cap, and what stays reserved
/// is exactly the unknown holds'.
async fn balances_after(store: Store, ops: Vec<Op>) {
    let f = ledger(store).await;
    let l = &f.ledger;
    let mut holds = Vec::new();
    let mut keys: Vec<(String, HoldRequest)> = Vec::new();
    let mut member = false;
    let mut runs: Vec<(HoldId, String)> = Vec::new();
    for (n, op) in ops.into_iter().enumerate() {
        let now = f.now.load(Ordering::SeqCst);
        let _ = match op {
            Op::Grant(a, e) => {
                l.grant(&grant("w", a, Source::Plan, e.map(|s| now + s * 1000)), &format!("g{n}")).await.map(|_| ())
            }
            Op::Hold(a) => {
                let req = hold("w", a);
                keys.push((format!("h{n}"), req.clone()));
                l.hold(&req, &format!("h{n}")).await.map(|h| holds.push(h))
            }
            Op::Post(i, a) if !holds.is_empty() => {
                let h = holds[i % holds.len()].clone();
                l.post(&h, Credits(a), Credits(a / 2), None, &format!("p{n}")).await.map(|_| ())
            }
            Op::Void(i) if !holds.is_empty() => {
                l.void(&holds[i % holds.len()].clone(), &format!("v{n}")).await.map(|_| ())
            }
            Op::Tick(s) => {
                f.now.fetch_add(s * 1000, Ordering::SeqCst);
                l.recover().await.map(|_| ())
            }
            Op::Expire => l.expire_grants().await.map(|_| ()),
            Op::Batch(amounts) => {
                let reqs: Vec<_> =
                    amounts.iter().enumerate().map(|(j, a)| (hold("w", *a), format!("b{n}-{j}"))).collect();
                for r in l.hold_many(&reqs).await.unwrap().into_iter().flatten() {
                    holds.push(r);
                }
                Ok(())
            }
            Op::MemberHold(a) => {
                if !member && l.set_member_cap("w", "m", Credits(250)).await.is_ok() {
                    member = true;
                }
                let req = HoldRequest { member: Some("m".into()), ..hold("w", a) };
                l.hold(&req, &format!("m{n}")).await.map(|h| holds.push(h))
            }
            Op::Reserve(a) => {
                let run = format!("run-{n}");
                l.reserve_run("w", None, Credits(a), 60_000, &run).await.map(|r| runs.push((r, run)))
            }
            Op::Carve(i, a) if !runs.is_empty() => {
                let parent = runs[i % runs.len()].0.clone();
                let req = HoldRequest { parent: Some(parent.0), ..hold("w", a) };
                l.hold(&req, &format!("c{n}")).await.map(|h| holds.push(h))
            }
            Op::Release(i) if !runs.is_empty() => {
                let (r, run) = runs[i % runs.len()].clone();
                l.release_run(&r, &run).await.map(|_| ())
            }
            Op::Unknown(i) if !holds.is_empty() => l.mark_unknown(&holds[i % holds.len()].clone()).await,
            Op::Replay(i) if !keys.is_empty() => {
                let (key, req) = keys[i % keys.len()].clone();
                let before = l.balance("w").await.ok();
                let _ = l.hold(&req, &key).await;
                assert_eq!(l.balance("w").await.ok(), before, "a replay has no effect");
                Ok(())
            }
            _ => Ok(()),
        };
        assert_eq!(l.total().await.unwrap(), 0, "sums to zero");
        assert!(l.lowest_available().await.unwrap() >= 0, "never negative");
        if let Ok(m) = l.member("w", "m").await {
            assert!(m.held >= 0 && m.spent + m.held <= m.cap, "within the cap: {m:?}");
        }
    }
    // Closing every run and voiding every pending hold leaves exactly the unknown
    // holds reserved: no reservation is lost or counted twice.
    for (n, (r, run)) in runs.iter().enumerate() {
        let _ = l.release_run(r, &format!("{run}-{n}")).await;
    }
    for (n, h) in holds.iter().enumerate() {
        let _ = l.void(h, &format!("end-{n}")).await;
    }
    let open = l.holds(Some("w"), true).await.unwrap();
    assert!(open.iter().all(|h| h.state == "unknown"), "{open:?}");
    let unknown: i64 = open.iter().map(|h| h.amount).sum();
    assert_eq!(l.held_total().await.unwrap(), unknown, "reserved credit is exactly the unknown holds'");
    f.finish().await;
}

#[path = "ledger/safety.rs"]
mod safety;
