//! The farm's announcements on a real PostgreSQL: a claim and a completion are heard by a
//! watcher as task events, in order; a preview is kept as the latest of its node output and
//! announced; an oversize preview is not kept; the reaper drops previews nobody refreshed.

use switchyard_farm::{
    Farm, FarmEvent, NewTask, Outcome, PREVIEW_MAX_BYTES, PreviewNote, Requires, StoredPreview, Worker,
};
use switchyard_testkit::TestDatabase;

fn preview(node: &str, png: Vec<u8>) -> StoredPreview {
    StoredPreview {
        item: Some("f001".into()),
        node: node.into(),
        port: "image".into(),
        width: 8,
        height: 4,
        source_width: 1920,
        source_height: 1080,
        png,
    }
}

#[test]
fn a_watcher_hears_task_changes_and_previews_in_order() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let db = TestDatabase::create().await;
        let farm = Farm::connect(&db.url, 4).await.unwrap();
        let task = NewTask {
            seq: 0,
            from: 0,
            to: 1,
            priority: 0,
            max_attempts: 3,
            requires: Requires::default(),
            kind: "graph".into(),
        };
        farm.add("r1", &[task]).await.unwrap();
        let w = Worker { id: "w1".into(), host: "h".into(), slots: 1, memory_gb: 8.0, ..Worker::default() };
        farm.register(&w).await.unwrap();
        let mut watch = farm.watch().await.unwrap();
        let lease = farm.claim(&w, 1, 60_000).await.unwrap().remove(0);
        assert!(farm.put_preview("r1", &preview("blur", b"\x89PNG one".to_vec())).await.unwrap());
        assert!(farm.put_preview("r1", &preview("blur", b"\x89PNG two".to_vec())).await.unwrap());
        assert!(!farm.put_preview("r1", &preview("big", vec![0; PREVIEW_MAX_BYTES + 1])).await.unwrap());
        farm.complete(&lease, &Outcome::Done).await.unwrap();
        let mut heard = Vec::new();
        while heard.len() < 4 {
            let event = tokio::time::timeout(std::time::Duration::from_secs(10), watch.next()).await.unwrap().unwrap();
            heard.push(event.unwrap());
        }
        let what: Vec<String> = heard
            .iter()
            .map(|e| match e {
                FarmEvent::Task(t) => format!("task {} {}", t.seq, t.state),
                FarmEvent::Preview(p) => format!("preview {}", p.node),
            })
            .collect();
        assert_eq!(what, ["task 0 leased", "preview blur", "preview blur", "task 0 done"]);
        let note = PreviewNote { run: "r1".into(), node: "blur".into(), port: "image".into() };
        let kept = farm.preview(&note).await.unwrap().unwrap();
        assert_eq!(kept.png, b"\x89PNG two", "the latest is kept");
        let big = PreviewNote { node: "big".into(), ..note.clone() };
        assert!(farm.preview(&big).await.unwrap().is_none(), "an oversize preview is not kept");
        let in_two_days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64
            + 2 * 86_400_000;
        farm.reap(in_two_days).await.unwrap();
        assert!(farm.preview(&note).await.unwrap().is_none(), "a preview nobody refreshed for a day is dropped");
        db.drop_now().await;
    });
}
