//! The lease protocol on a real PostgreSQL, a database of its own per test: no task is ever
//! held by two workers; a lost lease can never complete its task (OpenCue's double booking
//! on retry); expired leases come back with their attempts counted; failures retry until
//! their attempts run out; a cancel takes leases away.

use std::collections::BTreeSet;

use switchyard_farm::{Completion, Farm, FarmError, NewTask, Outcome, Requires, Worker, split};
use switchyard_testkit::TestDatabase;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A farm over a fresh database, with run `r1`'s `items` split by `chunk`.
async fn farm_with(items: u32, chunk: u32, max_attempts: u32) -> (Farm, TestDatabase) {
    let db = TestDatabase::create().await;
    let farm = Farm::connect(&db.url, 8).await.unwrap();
    let tasks: Vec<NewTask> = split(items, chunk)
        .into_iter()
        .map(|s| NewTask {
            seq: s.seq,
            from: s.from,
            to: s.to,
            priority: 0,
            max_attempts,
            requires: Requires::default(),
            kind: "graph".into(),
        })
        .collect();
    farm.add("r1", &tasks).await.unwrap();
    (farm, db)
}

/// A registered worker with 64 GB, no GPU and no tags.
pub async fn worker(farm: &Farm, id: &str) -> Worker {
    let w = Worker { id: id.into(), host: "localhost".into(), slots: 1, memory_gb: 64.0, ..Worker::default() };
    farm.register(&w).await.unwrap();
    w
}

fn lost(e: FarmError) -> bool {
    matches!(e, FarmError::LeaseLost { .. })
}

#[test]
fn concurrent_claims_never_hand_one_task_to_two_workers() {
    rt().block_on(async {
        let (farm, db) = farm_with(400, 1, 3).await;
        let mut workers = Vec::new();
        for w in 0..6 {
            let farm = farm.clone();
            let me = worker(&farm, &format!("w{w}")).await;
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = farm.claim(&me, 7, 60_000).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|l| l.task));
                }
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let distinct: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!((all.len(), distinct.len()), (400, 400), "each task claimed exactly once");
        db.drop_now().await;
    });
}

#[test]
fn a_lost_lease_can_never_complete_its_task_and_the_task_runs_again() {
    rt().block_on(async {
        let (farm, db) = farm_with(1, 1, 3).await;
        let first = farm.claim(&worker(&farm, "w1").await, 1, 50).await.unwrap().remove(0);
        assert_eq!((first.attempt, first.item_from, first.item_to), (1, 0, 1));
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        assert_eq!(farm.reap(now_ms()).await.unwrap(), 1, "the worker stopped renewing: its lease is taken back");
        let second = farm.claim(&worker(&farm, "w2").await, 1, 60_000).await.unwrap().remove(0);
        assert_eq!(second.task, first.task);
        assert_eq!(second.attempt, 2, "the lost attempt is counted");
        assert_ne!(second.token, first.token);
        // The first worker wakes up and reports: refused, and the second's lease stands.
        assert!(lost(farm.complete(&first, &Outcome::Done).await.unwrap_err()));
        assert!(lost(farm.renew(&first, 1_000).await.unwrap_err()));
        farm.renew(&second, 60_000).await.unwrap();
        farm.complete(&second, &Outcome::Done).await.unwrap();
        assert!(lost(farm.complete(&second, &Outcome::Done).await.unwrap_err()), "completes once");
        let task = farm.tasks("r1").await.unwrap().remove(0);
        assert_eq!((task.state.as_str(), task.attempts, task.leased_by.as_deref()), ("done", 2, Some("w2")));
        db.drop_now().await;
    });
}

#[test]
fn completions_reported_together_each_answer_for_themselves() {
    rt().block_on(async {
        let (farm, db) = farm_with(4, 1, 3).await;
        let leases = farm.claim(&worker(&farm, "w1").await, 4, 60_000).await.unwrap();
        let mut stale = leases[1].clone();
        stale.token = "not-the-lease".into();
        let outcomes = [Outcome::Done, Outcome::Done, Outcome::Failed("bad frame".into()), Outcome::Done];
        let ended: Vec<Completion> = [leases[0].clone(), stale, leases[2].clone(), leases[3].clone()]
            .into_iter()
            .zip(outcomes)
            .map(|(lease, outcome)| Completion { lease, outcome, outputs: Vec::new() })
            .collect();
        let results = farm.complete_many(&ended).await.unwrap();
        let lost_ones: Vec<bool> = results.into_iter().map(|r| r.is_err_and(lost)).collect();
        assert_eq!(lost_ones, [false, true, false, false], "only the stale lease is refused");
        let states: Vec<String> = farm.tasks("r1").await.unwrap().into_iter().map(|t| t.state).collect();
        assert_eq!(states, ["done", "leased", "queued", "done"], "the others are recorded, the failure re-queued");
        farm.complete(&leases[1], &Outcome::Done).await.unwrap();
        db.drop_now().await;
    });
}

#[test]
fn the_reaper_takes_back_only_expired_leases_and_fails_tasks_out_of_attempts() {
    rt().block_on(async {
        let (farm, db) = farm_with(2, 1, 1).await;
        let short = farm.claim(&worker(&farm, "w1").await, 1, 1).await.unwrap().remove(0);
        let long = farm.claim(&worker(&farm, "w2").await, 1, 3_600_000).await.unwrap().remove(0);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(farm.reap(now_ms()).await.unwrap(), 1, "only the expired lease");
        farm.renew(&long, 3_600_000).await.unwrap();
        assert!(lost(farm.renew(&short, 1_000).await.unwrap_err()));
        let tasks = farm.tasks("r1").await.unwrap();
        assert_eq!(tasks[0].state, "failed", "one attempt allowed, and it was lost");
        assert!(tasks[0].last_error.as_deref().unwrap().contains("stopped renewing"), "{tasks:?}");
        assert_eq!(tasks[1].state, "leased");
        db.drop_now().await;
    });
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn failures_retry_until_their_attempts_run_out() {
    rt().block_on(async {
        let (farm, db) = farm_with(1, 1, 2).await;
        for (attempt, after) in [(1, "queued"), (2, "failed")] {
            let lease = farm.claim(&worker(&farm, "w1").await, 1, 60_000).await.unwrap().remove(0);
            assert_eq!(lease.attempt, attempt);
            farm.complete(&lease, &Outcome::Failed(format!("boom {attempt}"))).await.unwrap();
            let task = farm.tasks("r1").await.unwrap().remove(0);
            assert_eq!((task.state.as_str(), task.last_error.clone()), (after, Some(format!("boom {attempt}"))));
        }
        assert!(
            farm.claim(&worker(&farm, "w1").await, 1, 60_000).await.unwrap().is_empty(),
            "a failed task is not claimed again"
        );
        db.drop_now().await;
    });
}

#[test]
fn a_cancel_takes_every_lease_away_and_higher_priority_goes_first() {
    rt().block_on(async {
        let (farm, db) = farm_with(3, 1, 3).await;
        let urgent = NewTask {
            seq: 0,
            from: 0,
            to: 1,
            priority: 10,
            max_attempts: 1,
            requires: Requires::default(),
            kind: "graph".into(),
        };
        farm.add("r2", &[urgent]).await.unwrap();
        let first = farm.claim(&worker(&farm, "w1").await, 1, 60_000).await.unwrap().remove(0);
        assert_eq!(first.run_id, "r2", "priority 10 before the older priority-0 tasks");
        let held = farm.claim(&worker(&farm, "w1").await, 1, 60_000).await.unwrap().remove(0);
        assert_eq!(farm.cancel_run("r1").await.unwrap(), 3, "the held task and the two waiting");
        assert!(lost(farm.renew(&held, 1_000).await.unwrap_err()), "the worker learns at its next renewal");
        assert!(lost(farm.complete(&held, &Outcome::Done).await.unwrap_err()));
        assert!(farm.claim(&worker(&farm, "w1").await, 5, 60_000).await.unwrap().is_empty());
        farm.complete(&first, &Outcome::Done).await.unwrap();
        let states: Vec<String> = farm.tasks("r1").await.unwrap().into_iter().map(|t| t.state).collect();
        assert_eq!(states, ["cancelled"; 3]);
        db.drop_now().await;
    });
}

/// A paused run's waiting tasks wait, its running task's lease is taken back (its holder's
/// completion is refused, and its attempt is not counted), a priority change reorders what
/// waits, and a resumed run's tasks are claimed again.
#[test]
fn a_paused_run_holds_its_tasks_and_a_resumed_one_runs_them() {
    rt().block_on(async {
        let (farm, db) = farm_with(3, 1, 3).await;
        let w = worker(&farm, "w1").await;
        farm.add(
            "r2",
            &[NewTask {
                seq: 0,
                from: 0,
                to: 1,
                priority: 5,
                max_attempts: 3,
                requires: Requires::default(),
                kind: "graph".into(),
            }],
        )
        .await
        .unwrap();
        let running = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
        assert_eq!(running.run_id, "r2", "the higher priority first");
        let running = {
            farm.complete(&running, &Outcome::Done).await.unwrap();
            farm.claim(&w, 1, 60_000).await.unwrap().remove(0)
        };
        assert_eq!(running.run_id, "r1");
        assert_eq!(farm.pause_run("r1").await.unwrap(), 3);
        assert!(matches!(farm.complete(&running, &Outcome::Done).await, Err(FarmError::LeaseLost { .. })));
        assert!(farm.lost_leases("w1", &[running.task]).await.unwrap() == [running.task], "its worker learns of it");
        assert!(farm.claim(&w, 3, 60_000).await.unwrap().is_empty(), "nothing of a paused run is dispatched");
        let tasks = farm.tasks("r1").await.unwrap();
        assert!(tasks.iter().all(|t| t.state == "paused" && t.attempts == 0), "{tasks:?}");
        assert_eq!(farm.set_priority("r1", 9).await.unwrap(), 3);
        assert_eq!(farm.resume_run("r1").await.unwrap(), 3);
        let again = farm.claim(&w, 3, 60_000).await.unwrap();
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(|l| l.attempt == 1), "the taken-back attempt was not counted");
        db.drop_now().await;
    });
}
