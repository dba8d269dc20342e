//! Issue 13's money and input safety, one regression test per behaviour.

use std::sync::atomic::Ordering;

use switchyard_ledger::plans::Plans;
use switchyard_ledger::{AMOUNT_MAX, Credits, HoldId, HoldRequest, LedgerError, Resolution, SEATS_MAX, Source};

use super::{Fixture, Store, grant, hold, ledger, rt};

on_both! {
    fn a_refused_grant_leaves_its_key_free_for_the_corrected_one(f) {
        let l = &f.ledger;
        let plans = Plans::builtin();
        let enterprise = &plans.plans["enterprise"];
        for bad in [0, -5, AMOUNT_MAX + 1] {
            let err = l.grant_plan("corp", "enterprise", enterprise, 1, Some(bad)).await.unwrap_err();
            assert!(matches!(err, LedgerError::InvalidAmount(_)), "{bad}: {err}");
        }
        let ok = l.grant_plan("corp", "enterprise", enterprise, 1, Some(5_000)).await.unwrap();
        assert_eq!(ok.amount, Credits(5_000), "the month's key was not burnt by the refusals");
        assert!(l.grant(&grant("x", 0, Source::Pack, None), "k").await.is_err());
        l.grant(&grant("x", 10, Source::Pack, None), "k").await.expect("the same key, corrected");
        assert!(l.hold(&hold("x", 0), "h").await.is_err());
        l.hold(&hold("x", 5), "h").await.expect("a refused hold leaves its key free too");
    }
}

on_both! {
    fn huge_grants_and_seats_are_refused_and_the_ledger_keeps_summing_to_zero(f) {
        let l = &f.ledger;
        let plans = Plans::builtin();
        let per_seat = plans.plans.values().find(|p| p.per_seat).expect("a per-seat plan");
        let name = plans.plans.iter().find(|(_, p)| p.per_seat).unwrap().0;
        for seats in [0, SEATS_MAX + 1, i64::MAX] {
            assert!(l.grant_plan("w", name, per_seat, seats, None).await.is_err(), "{seats} seats");
        }
        let enterprise = &plans.plans["enterprise"];
        assert!(l.grant_plan("w", "enterprise", enterprise, 1, Some(i64::MAX)).await.is_err());
        // Two maximal grants: each allowed, and their sum still an exact integer.
        l.grant(&grant("w", AMOUNT_MAX, Source::Pack, None), "max1").await.unwrap();
        l.grant(&grant("w", AMOUNT_MAX, Source::Pack, None), "max2").await.unwrap();
        assert_eq!(l.balance("w").await.unwrap().available, Credits(2 * AMOUNT_MAX));
        assert_eq!(l.total().await.unwrap(), 0);
        l.hold(&hold("w", 10), "h").await.expect("the ledger still works");
    }
}

on_both! {
    fn an_empty_payment_id_is_refused(f) {
        let plans = Plans::builtin();
        let (name, pack) = plans.packs.iter().next().unwrap();
        for id in ["", "   "] {
            let err = f.ledger.topup("w", name, pack, id).await.unwrap_err();
            assert!(err.to_string().contains("payment"), "{err}");
        }
        f.ledger.topup("w", name, pack, "pi_123").await.unwrap();
        let again = f.ledger.topup("w", name, pack, "pi_123").await.unwrap();
        assert_eq!(f.ledger.balance("w").await.unwrap().available, again.amount, "one payment, one top-up");
    }
}

#[test]
fn a_foreign_sqlite_file_is_refused_before_anything_is_written() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photos.db");
        {
            use sqlx::ConnectOptions as _;
            let o = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
            let mut c = o.connect().await.unwrap();
            sqlx::query("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)").execute(&mut c).await.unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = switchyard_ledger::Ledger::open(&path).await.err().expect("refused");
        assert!(matches!(err, LedgerError::NotALedger { .. }), "{err}");
        assert!(err.to_string().contains("photos"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "not a byte written");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database at all, just some words that fill a page").unwrap();
        assert!(matches!(switchyard_ledger::Ledger::open(&text).await, Err(LedgerError::NotALedger { .. })));
        // A ledger reopens, and an empty file becomes one.
        let real = dir.path().join("ledger.db");
        drop(switchyard_ledger::Ledger::open(&real).await.unwrap());
        switchyard_ledger::Ledger::open(&real).await.expect("its own ledger reopens");
    });
}

on_both! {
    fn a_team_pool_is_spent_only_by_a_named_member(f) {
        let l = &f.ledger;
        l.grant(&grant("team", 1_000, Source::Plan, None), "g").await.unwrap();
        l.hold(&hold("team", 10), "before-members").await.expect("a wallet without members spends freely");
        l.set_member_cap("team", "ana", Credits(100)).await.unwrap();
        let err = l.hold(&hold("team", 10), "anonymous").await.unwrap_err();
        assert!(matches!(err, LedgerError::MemberRequired { .. }), "{err}");
        assert!(err.to_string().contains("ana"), "{err}");
        let as_ana = HoldRequest { member: Some("ana".into()), ..hold("team", 10) };
        l.hold(&as_ana, "named").await.unwrap();
    }
}

on_both! {
    fn a_sent_call_survives_a_crash_as_unknown_and_an_unsent_one_is_voided(f) {
        let l = &f.ledger;
        l.grant(&grant("erin", 100, Source::Pack, None), "g").await.unwrap();
        let unsent = l.hold(&hold("erin", 30), "a").await.unwrap();
        let sent = l.hold(&hold("erin", 20), "b").await.unwrap();
        l.record_intent(&sent, None).await.unwrap();
        l.record_intent(&sent, Some("task-7")).await.unwrap();
        f.now.fetch_add(3_600_000, Ordering::SeqCst);
        let r = l.recover().await.unwrap();
        assert_eq!((r.voided, r.unknown), (1, 1));
        let holds = l.holds(Some("erin"), false).await.unwrap();
        let state = |id: &HoldId| holds.iter().find(|h| h.id == id.0).unwrap().state.clone();
        assert_eq!(state(&unsent), "expired");
        assert_eq!(state(&sent), "unknown");
        assert_eq!(holds.iter().find(|h| h.id == sent.0).unwrap().vendor_id.as_deref(), Some("task-7"));
        assert_eq!(l.balance("erin").await.unwrap().held, Credits(20));
    }
}

on_both! {
    fn an_operator_resolves_an_unknown_hold_on_evidence(f) {
        let l = &f.ledger;
        l.grant(&grant("erin", 100, Source::Pack, None), "g").await.unwrap();
        let (a, b, c) = (
            l.hold(&hold("erin", 30), "a").await.unwrap(),
            l.hold(&hold("erin", 20), "b").await.unwrap(),
            l.hold(&hold("erin", 10), "c").await.unwrap(),
        );
        for h in [&a, &b] {
            l.mark_unknown(h).await.unwrap();
        }
        let post = Resolution::Post { charge: Credits(25), cost: Credits(20) };
        assert!(matches!(l.resolve(&a, post, " ", "r1").await, Err(LedgerError::NoEvidence(_))));
        assert!(matches!(l.resolve(&c, post, "inv 1", "r0").await, Err(LedgerError::Settled { .. })), "pending");
        let posted = l.resolve(&a, post, "BFL invoice 2026-11 line 14", "r1").await.unwrap();
        assert_eq!((posted.charged, posted.released), (Credits(25), Credits(5)));
        l.resolve(&b, Resolution::Void, "ticket #881: no charge", "r2").await.unwrap();
        assert_eq!(l.balance("erin").await.unwrap().available, Credits(100 - 25 - 10));
        let replay = l.resolve(&a, post, "BFL invoice 2026-11 line 14", "r1").await.unwrap();
        assert_eq!(replay, posted, "a replay settles nothing twice");
        assert_eq!(l.total().await.unwrap(), 0);
        let records = l.holds(Some("erin"), false).await.unwrap();
        let ev = records.iter().find(|h| h.id == a.0).unwrap();
        assert_eq!(ev.evidence.as_deref(), Some("BFL invoice 2026-11 line 14"));
    }
}

on_both! {
    fn a_flagged_charge_keeps_its_review_note(f) {
        let l = &f.ledger;
        l.grant(&grant("w", 100, Source::Pack, None), "g").await.unwrap();
        let h = l.hold(&hold("w", 30), "h").await.unwrap();
        let why = "provider reported cost_usd_cents -3; charged by the catalog formula";
        l.post_reviewed(&h, Credits(8), Credits(6), Some("t1"), Some(why), "p").await.unwrap();
        let records = l.holds(Some("w"), false).await.unwrap();
        assert_eq!(records[0].review.as_deref(), Some(why));
    }
}

on_both! {
    fn admission_reserves_each_runs_most_so_only_what_fits_is_admitted(f) {
        let l = f.ledger.clone();
        l.grant(&grant("studio", 250, Source::Pack, None), "g").await.unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let l = l.clone();
                tokio::spawn(
                    async move { l.reserve_run("studio", None, Credits(74), 600_000, &format!("run-{i}")).await },
                )
            })
            .collect();
        let mut admitted = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => admitted.push(r),
                Err(LedgerError::InsufficientFunds { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(admitted.len(), 3, "three runs of 74 fit in 250");
        assert_eq!(l.balance("studio").await.unwrap().available, Credits(250 - 3 * 74));
    }
}

on_both! {
    fn node_holds_draw_from_their_run_and_closing_it_releases_the_rest(f) {
        let l = &f.ledger;
        l.grant(&grant("s", 100, Source::Plan, None), "g1").await.unwrap();
        l.grant(&grant("s", 100, Source::Pack, None), "g2").await.unwrap();
        l.set_member_cap("s", "ana", Credits(150)).await.unwrap();
        let run = l.reserve_run("s", Some("ana"), Credits(120), 600_000, "r").await.unwrap();
        assert_eq!(l.member("s", "ana").await.unwrap().held, 120);
        let child = |n: i64| HoldRequest { member: Some("ana".into()), parent: Some(run.0.clone()), ..hold("s", n) };
        let a = l.hold(&child(70), "r:a").await.unwrap();
        let b = l.hold(&child(40), "r:b").await.unwrap();
        assert_eq!(l.reservation_left(&run).await.unwrap(), Credits(10));
        assert_eq!(l.balance("s").await.unwrap().available, Credits(80), "carving moves, never adds, reservations");
        // Past the reservation, a node takes from the wallet as any hold would.
        let c = l.hold(&child(15), "r:c").await.unwrap();
        assert_eq!(l.balance("s").await.unwrap().available, Credits(65));
        l.post(&a, Credits(50), Credits(40), None, "r:a:post").await.unwrap();
        assert_eq!(l.reservation_left(&run).await.unwrap(), Credits(30), "the unused 20 went back to the run");
        l.void(&b, "r:b:void").await.unwrap();
        assert_eq!(l.reservation_left(&run).await.unwrap(), Credits(70));
        l.void(&c, "r:c:void").await.unwrap();
        let released = l.release_run(&run, "r").await.unwrap();
        assert_eq!(released.released, Credits(70));
        let b = l.balance("s").await.unwrap();
        assert_eq!((b.available, b.held), (Credits(150), Credits(0)));
        let ana = l.member("s", "ana").await.unwrap();
        assert_eq!((ana.spent, ana.held), (50, 0));
        assert_eq!(l.total().await.unwrap(), 0);
        assert!(l.lowest_available().await.unwrap() >= 0);
    }
}

on_both! {
    fn an_unknown_node_hold_outlives_its_run_and_settles_on_its_own(f) {
        let l = &f.ledger;
        l.grant(&grant("s", 100, Source::Pack, None), "g").await.unwrap();
        let run = l.reserve_run("s", None, Credits(60), 600_000, "r").await.unwrap();
        let n = l.hold(&HoldRequest { parent: Some(run.0.clone()), ..hold("s", 40) }, "r:n").await.unwrap();
        l.mark_unknown(&n).await.unwrap();
        l.release_run(&run, "r").await.unwrap();
        assert_eq!(l.balance("s").await.unwrap().held, Credits(40), "the unknown call keeps its credits");
        l.resolve(&n, Resolution::Post { charge: Credits(30), cost: Credits(30) }, "vendor statement", "x")
            .await
            .unwrap();
        let b = l.balance("s").await.unwrap();
        assert_eq!((b.available, b.held), (Credits(70), Credits(0)));
        assert_eq!(l.total().await.unwrap(), 0);
    }
}
