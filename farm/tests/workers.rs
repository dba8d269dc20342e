//! Workers on a real PostgreSQL: a task goes only to a worker that meets its requirements
//! (and one that no worker meets is known before it waits); a worker that keeps failing a
//! kind of task in a run is blocklisted for it until an admin clears it; a draining worker
//! takes nothing new.

use switchyard_farm::{Farm, NewTask, Outcome, Requires, Worker};
use switchyard_testkit::TestDatabase;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn task(seq: u32, requires: Requires, max_attempts: u32) -> NewTask {
    NewTask { seq, from: seq, to: seq + 1, priority: 0, max_attempts, requires, kind: "graph".into() }
}

async fn register(farm: &Farm, id: &str, memory_gb: f64, gpu: &[&str], tags: &[&str]) -> Worker {
    let w = Worker {
        id: id.into(),
        host: format!("{id}.farm"),
        slots: 2,
        memory_gb,
        gpu_brands: gpu.iter().map(|s| s.to_string()).collect(),
        onnx_providers: vec!["CPUExecutionProvider".into()],
        tags: tags.iter().map(|s| s.to_string()).collect(),
    };
    farm.register(&w).await.unwrap();
    w
}

#[test]
fn a_task_goes_only_to_a_worker_that_meets_its_requirements() {
    rt().block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 4).await.unwrap();
        let needs = Requires { memory_gb: 16.0, gpu_brand: Some("nvidia".into()), tags: vec!["licensed-nuke".into()] };
        assert!(!farm.compatible(&needs, 0).await.unwrap(), "no worker yet");
        let cpu = register(&farm, "cpu", 128.0, &[], &["licensed-nuke"]).await;
        let small = register(&farm, "small", 8.0, &["nvidia"], &["licensed-nuke"]).await;
        let untagged = register(&farm, "untagged", 64.0, &["nvidia"], &[]).await;
        assert!(!farm.compatible(&needs, 0).await.unwrap(), "none meets all three");
        farm.add("r1", &[task(0, needs.clone(), 3)]).await.unwrap();
        for w in [&cpu, &small, &untagged] {
            assert!(!needs.met_by(w), "{}", w.id);
            assert!(farm.claim(w, 1, 60_000).await.unwrap().is_empty(), "{} gets nothing", w.id);
        }
        let right = register(&farm, "right", 32.0, &["amd", "nvidia"], &["licensed-nuke", "houdini"]).await;
        assert!(needs.met_by(&right) && farm.compatible(&needs, 0).await.unwrap());
        let got = farm.claim(&right, 1, 60_000).await.unwrap();
        assert_eq!(got.len(), 1, "the one that meets them");
        let alive_now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!(!farm.compatible(&needs, alive_now + 60_000).await.unwrap(), "only workers alive since then count");
        db.drop_now().await;
    });
}

#[test]
fn a_worker_that_keeps_failing_a_kind_of_task_is_blocklisted_until_cleared() {
    rt().block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 4).await.unwrap();
        let tasks: Vec<NewTask> = (0..4).map(|i| task(i, Requires::default(), 10)).collect();
        farm.add("r1", &tasks).await.unwrap();
        let bad = register(&farm, "bad", 64.0, &[], &[]).await;
        let good = register(&farm, "good", 64.0, &[], &[]).await;
        for _ in 0..switchyard_farm::BLOCK_AFTER {
            let lease = farm.claim(&bad, 1, 60_000).await.unwrap().remove(0);
            farm.complete(&lease, &Outcome::Failed("driver crash".into())).await.unwrap();
        }
        assert!(farm.claim(&bad, 1, 60_000).await.unwrap().is_empty(), "blocklisted for r1's graph tasks");
        let blocked = farm.blocklist().await.unwrap();
        assert_eq!((blocked[0].worker.as_str(), blocked[0].failures), ("bad", 3), "{blocked:?}");
        assert_eq!(blocked[0].last_error.as_deref(), Some("driver crash"));
        // The run completes on the others.
        while let Some(lease) = farm.claim(&good, 1, 60_000).await.unwrap().pop() {
            farm.complete(&lease, &Outcome::Done).await.unwrap();
            if farm.tasks("r1").await.unwrap().iter().filter(|t| t.state == "done").count() == 2 {
                break;
            }
        }
        // Another run's tasks still go to it, and a cleared blocklist lets it back in.
        farm.add("r2", &[task(0, Requires::default(), 3)]).await.unwrap();
        assert_eq!(farm.claim(&bad, 1, 60_000).await.unwrap()[0].run_id, "r2");
        assert_eq!(farm.clear_blocklist("r1", Some("bad")).await.unwrap(), 1);
        assert_eq!(farm.claim(&bad, 1, 60_000).await.unwrap()[0].run_id, "r1");
        db.drop_now().await;
    });
}

#[test]
fn a_draining_worker_takes_nothing_new_and_an_unregistered_one_nothing_at_all() {
    rt().block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 4).await.unwrap();
        farm.add("r1", &[task(0, Requires::default(), 3), task(1, Requires::default(), 3)]).await.unwrap();
        let ghost = Worker { id: "ghost".into(), memory_gb: 64.0, ..Worker::default() };
        assert!(farm.claim(&ghost, 1, 60_000).await.unwrap().is_empty(), "not registered");
        let w = register(&farm, "w1", 64.0, &[], &[]).await;
        let held = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
        assert!(farm.drain("w1").await.unwrap());
        assert!(farm.claim(&w, 1, 60_000).await.unwrap().is_empty(), "draining");
        farm.complete(&held, &Outcome::Done).await.unwrap();
        let listed = farm.workers().await.unwrap();
        assert_eq!((listed[0].id.as_str(), listed[0].state.as_str()), ("w1", "draining"));
        assert!(farm.heartbeat("w1").await.unwrap() && !farm.heartbeat("ghost").await.unwrap());
        farm.register(&w).await.unwrap();
        assert_eq!(farm.claim(&w, 1, 60_000).await.unwrap().len(), 1, "active again once re-registered");
        db.drop_now().await;
    });
}

/// A task a worker failed goes to another live worker next, so one broken machine cannot
/// spend every attempt of a task; when no other live worker is left, the same one may retry.
#[test]
fn a_failed_task_is_retried_by_another_live_worker_while_there_is_one() {
    rt().block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 4).await.unwrap();
        let broken = register(&farm, "broken", 64.0, &[], &[]).await;
        let healthy = register(&farm, "healthy", 64.0, &[], &[]).await;
        farm.add("r1", &[task(0, Requires::default(), 3), task(1, Requires::default(), 3)]).await.unwrap();
        let first = farm.claim(&broken, 1, 60_000).await.unwrap().remove(0);
        assert_eq!(first.seq, 0);
        farm.complete(&first, &Outcome::Failed("no mount".into())).await.unwrap();
        let next = farm.claim(&broken, 1, 60_000).await.unwrap();
        assert_eq!(next.iter().map(|l| l.seq).collect::<Vec<_>>(), [1], "not task 0 again while healthy lives");
        let retry = farm.claim(&healthy, 1, 60_000).await.unwrap();
        assert_eq!(retry.iter().map(|l| (l.seq, l.attempt)).collect::<Vec<_>>(), [(0, 2)]);
        farm.complete(&retry[0], &Outcome::Failed("flaky".into())).await.unwrap();
        // Both have failed it now: either may take it.
        let third = farm.claim(&broken, 1, 60_000).await.unwrap();
        assert_eq!(third.iter().map(|l| (l.seq, l.attempt)).collect::<Vec<_>>(), [(0, 3)]);
        // Interrupted work is nobody's failure: its attempt is given back.
        farm.complete(&third[0], &Outcome::Interrupted("the database was away".into())).await.unwrap();
        let tasks = farm.tasks("r1").await.unwrap();
        assert_eq!((tasks[0].state.as_str(), tasks[0].attempts), ("queued", 2));
        let failures: i32 = farm.blocklist().await.unwrap().iter().map(|b| b.failures).sum();
        assert_eq!(failures, 2, "the interruption is not counted against broken");
        db.drop_now().await;
    });
}

/// A task killed for want of memory is retried only on a live worker with more memory while
/// one exists; with none, the same machine may try again until its attempts run out.
#[test]
fn a_task_out_of_memory_goes_to_a_bigger_live_worker_while_there_is_one() {
    rt().block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 4).await.unwrap();
        let small = register(&farm, "small", 8.0, &[], &[]).await;
        farm.add("r1", &[task(0, Requires::default(), 5)]).await.unwrap();
        let oom = || Outcome::OutOfMemory("killed".into());
        let first = farm.claim(&small, 1, 60_000).await.unwrap().remove(0);
        farm.complete(&first, &oom()).await.unwrap();
        let again = farm.claim(&small, 1, 60_000).await.unwrap();
        assert_eq!(again.len(), 1, "no bigger machine: small tries again");
        let big = register(&farm, "big", 64.0, &[], &[]).await;
        farm.complete(&again[0], &oom()).await.unwrap();
        assert!(farm.claim(&small, 1, 60_000).await.unwrap().is_empty(), "now it waits for more memory");
        let moved = farm.claim(&big, 1, 60_000).await.unwrap();
        assert_eq!(moved.iter().map(|l| l.attempt).collect::<Vec<_>>(), [3], "attempts are counted");
        assert!(farm.blocklist().await.unwrap().is_empty(), "nobody is blamed for memory");
        db.drop_now().await;
    });
}
