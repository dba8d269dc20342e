//! Money in the farm, on a real PostgreSQL: a billed task's reservation is taken in the
//! transaction that dispatches it and closed in the one that ends it (done, failed, reaped
//! or cancelled); paid calls carve their holds from it; a dead worker's posted calls stay
//! posted, its sent calls stay unknown and the rest are voided; once a task is cancelled no
//! paid call can take a hold; the run's budget and the wallet bound what tasks reserve.

use switchyard_farm::{Farm, FarmError, FarmRun, NewTask, Outcome, Requires, RunBilling, Worker, split};
use switchyard_ledger::{Audit, Credits, Grant, HoldId, HoldRequest, LedgerError, Source};
use switchyard_testkit::TestDatabase;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A farm whose run `r1` bills `studio` (granted `credits`) up to 10 cr an item, over
/// `items` items in tasks of 2, with `budget`.
async fn billed_farm(credits: i64, items: u32, budget: Option<i64>) -> (Farm, TestDatabase, Worker) {
    let db = TestDatabase::create().await;
    let farm = Farm::connect(&db.url, 8).await.unwrap();
    let grant = Grant {
        wallet: "studio".into(),
        amount: Credits(credits),
        source: Source::Pack,
        expires_at_ms: None,
        reason: "pack:test".into(),
        rollover_cap: 0,
    };
    farm.ledger().grant(&grant, "grant-1").await.unwrap();
    let run = FarmRun {
        id: "r1".into(),
        files: (0..items).map(|i| format!("/frames/{i}.png")).collect(),
        billing: Some(RunBilling {
            account: "studio".into(),
            item_most: 10,
            budget,
            policy: "cheapest".into(),
            ..RunBilling::default()
        }),
        ..FarmRun::default()
    };
    let tasks: Vec<NewTask> = split(items, 2)
        .into_iter()
        .map(|s| NewTask {
            seq: s.seq,
            from: s.from,
            to: s.to,
            priority: 0,
            max_attempts: 3,
            requires: Requires::default(),
            kind: "graph".into(),
        })
        .collect();
    farm.submit(&run, &tasks).await.unwrap();
    let w = Worker { id: "w1".into(), host: "localhost".into(), slots: 4, memory_gb: 64.0, ..Worker::default() };
    farm.register(&w).await.unwrap();
    (farm, db, w)
}

/// A paid call's hold of `amount`, drawn from `task`'s reservation.
async fn call_hold(farm: &Farm, task: &str, node: &str, amount: i64) -> Result<HoldId, LedgerError> {
    let req = HoldRequest {
        wallet: "studio".into(),
        amount: Credits(amount),
        timeout_ms: 600_000,
        audit: Audit {
            run_id: Some("r1".into()),
            node_id: Some(node.into()),
            provider: Some("bfl".into()),
            vendor_id: None,
        },
        member: None,
        parent: Some(task.into()),
    };
    farm.ledger().hold(&req, &format!("{task}:{node}:hold")).await
}

async fn available(farm: &Farm) -> i64 {
    farm.ledger().balance("studio").await.unwrap().available.0
}

/// `(state, amount, posted)` of a hold.
async fn hold_state(farm: &Farm, id: &str) -> (String, i64, i64) {
    let holds = farm.ledger().holds(Some("studio"), false).await.unwrap();
    let h = holds.iter().find(|h| h.id == id).unwrap_or_else(|| panic!("no hold {id}"));
    (h.state.clone(), h.amount, h.posted)
}

#[test]
fn a_claim_reserves_a_billed_task_and_its_completion_releases_what_its_calls_left() {
    rt().block_on(async {
        let (farm, db, w) = billed_farm(1000, 4, None).await;
        let lease = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
        let task_hold = lease.hold.clone().expect("a billed task is reserved at dispatch");
        assert_eq!(hold_state(&farm, &task_hold).await, ("pending".into(), 20, 0), "2 items at 10 cr");
        assert_eq!(available(&farm).await, 980);
        let call = call_hold(&farm, &task_hold, "f0/key", 10).await.unwrap();
        farm.ledger().post(&call, Credits(7), Credits(5), Some("bfl-123"), &format!("{}:post", call.0)).await.unwrap();
        farm.complete(&lease, &Outcome::Done).await.unwrap();
        assert_eq!(hold_state(&farm, &task_hold).await.0, "released");
        assert_eq!(hold_state(&farm, &call.0).await, ("posted".into(), 10, 7));
        assert_eq!(available(&farm).await, 993, "only the posted call is spent");
        assert!(farm.ledger().holds(Some("studio"), true).await.unwrap().is_empty(), "no hold stays open");
        assert_eq!(farm.ledger().total().await.unwrap(), 0, "the books balance");
        db.drop_now().await;
    });
}

#[test]
fn a_dead_workers_posted_call_stays_posted_its_sent_call_stays_unknown_and_the_rest_is_voided() {
    rt().block_on(async {
        let (farm, db, w) = billed_farm(1000, 2, None).await;
        let lease = farm.claim(&w, 1, 1).await.unwrap().remove(0);
        let task_hold = lease.hold.clone().unwrap();
        let posted = call_hold(&farm, &task_hold, "f0/a", 5).await.unwrap();
        farm.ledger().post(&posted, Credits(4), Credits(3), Some("v-1"), "post-a").await.unwrap();
        let sent = call_hold(&farm, &task_hold, "f0/b", 5).await.unwrap();
        farm.ledger().record_intent(&sent, Some("v-2")).await.unwrap();
        let unsent = call_hold(&farm, &task_hold, "f1/a", 5).await.unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(farm.reap(i64::MAX).await.unwrap(), 1);
        assert_eq!(hold_state(&farm, &posted.0).await.0, "posted");
        assert_eq!(hold_state(&farm, &sent.0).await.0, "unknown", "it may have gone out: reconciliation decides");
        assert_eq!(hold_state(&farm, &unsent.0).await.0, "voided");
        assert_eq!(hold_state(&farm, &task_hold).await.0, "released");
        assert_eq!(available(&farm).await, 1000 - 4 - 5, "the posted call is spent, the unknown one stays reserved");
        let again = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
        assert_eq!(again.attempt, 2);
        let second = again.hold.clone().unwrap();
        assert_ne!(second, task_hold, "each attempt has its own reservation");
        let late = farm.complete(&lease, &Outcome::Done).await;
        assert!(matches!(late, Err(FarmError::LeaseLost { .. })), "{late:?}");
        assert_eq!(hold_state(&farm, &second).await.0, "pending", "the stale completion closed nothing");
        assert_eq!(farm.ledger().total().await.unwrap(), 0);
        db.drop_now().await;
    });
}

#[test]
fn no_paid_call_can_take_a_hold_once_its_run_is_cancelled() {
    rt().block_on(async {
        let (farm, db, w) = billed_farm(1000, 4, None).await;
        let lease = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
        let task_hold = lease.hold.clone().unwrap();
        let before = call_hold(&farm, &task_hold, "f0/a", 5).await.unwrap();
        assert_eq!(farm.cancel_run("r1").await.unwrap(), 2);
        let after = call_hold(&farm, &task_hold, "f1/a", 5).await;
        assert!(matches!(after, Err(LedgerError::ReservationClosed { .. })), "{after:?}");
        assert_eq!(hold_state(&farm, &before.0).await.0, "voided", "its call had not gone out");
        assert_eq!(available(&farm).await, 1000);
        assert!(farm.ledger().holds(Some("studio"), true).await.unwrap().is_empty());
        db.drop_now().await;
    });
}

#[test]
fn the_budget_and_the_wallet_bound_what_tasks_reserve_and_a_short_task_fails_uncharged() {
    rt().block_on(async {
        // Budget 30: the first task reserves 20; the second would need 20 of the 10 left.
        let (farm, db, w) = billed_farm(1000, 4, Some(30)).await;
        let leases = farm.claim(&w, 2, 60_000).await.unwrap();
        assert_eq!(leases.len(), 1, "{leases:?}");
        let tasks = farm.tasks("r1").await.unwrap();
        let failed = tasks.iter().find(|t| t.state == "failed").unwrap();
        let why = failed.last_error.as_deref().unwrap();
        assert!(why.contains("budget has 10 cr left") && why.contains("nothing was charged"), "{why}");
        assert_eq!(failed.attempts, 0, "a task that never ran has no attempt counted");
        farm.complete(&leases[0], &Outcome::Done).await.unwrap();
        assert_eq!(farm.run("r1").await.unwrap().unwrap().billing.unwrap().budget, Some(30), "all of it came back");
        db.drop_now().await;

        // A wallet of 15: a task that needs up to 20 is not dispatched.
        let (farm, db, w) = billed_farm(15, 2, None).await;
        assert!(farm.claim(&w, 1, 60_000).await.unwrap().is_empty());
        let why = farm.tasks("r1").await.unwrap()[0].last_error.clone().unwrap();
        assert!(why.contains("15 cr available, 20 cr needed") && why.contains("nothing was charged"), "{why}");
        assert_eq!(available(&farm).await, 15);
        db.drop_now().await;
    });
}
