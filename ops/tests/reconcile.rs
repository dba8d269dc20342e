//! Reconciliation against a real ledger (SQLite and PostgreSQL): rows matched by id across
//! spilled sort chunks, every kind of finding, the variance flag, unknown holds posted,
//! voided or left from the export's evidence (and settled once), and by-day matching for
//! exports without ids (OpenAI's Costs API, a fal CSV).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_ledger::{Audit, Credits, Grant, HoldId, HoldRequest, Ledger, Source};
use switchyard_ops::reconcile::{self, FindingKind, Format, Options, Settle};
use switchyard_testkit::TestDatabase;

const DAY: i64 = 86_400_000;
/// 2026-11-01T00:00:00Z.
const NOV_1: i64 = 1_793_491_200_000;
const USD_PER_CREDIT: f64 = 0.005;

struct Books {
    ledger: Ledger,
    now: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
    db: Option<TestDatabase>,
}

async fn books(postgres: bool) -> Books {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOV_1 + DAY));
    let (ledger, db) = if postgres {
        let db = TestDatabase::create().await;
        (Ledger::connect_postgres(&db.url, 4).await.unwrap(), Some(db))
    } else {
        (Ledger::open(&dir.path().join("ledger.db")).await.unwrap(), None)
    };
    let clock = Arc::clone(&now);
    let ledger = ledger.with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let grant = Grant {
        wallet: "acme/studio".into(),
        amount: Credits(1_000_000),
        source: Source::Pack,
        expires_at_ms: None,
        reason: "pack".into(),
        rollover_cap: 0,
    };
    ledger.grant(&grant, "g").await.unwrap();
    Books { ledger, now, _dir: dir, db }
}

fn request(provider: &str, amount: i64) -> HoldRequest {
    HoldRequest {
        wallet: "acme/studio".into(),
        amount: Credits(amount),
        timeout_ms: 3_600_000,
        audit: Audit { provider: Some(provider.into()), ..Audit::default() },
        member: None,
        parent: None,
    }
}

/// A posted call: `cost` credits owed to the provider under `vendor_id`.
async fn charge(b: &Books, provider: &str, vendor_id: Option<&str>, cost: i64) {
    let key = format!("h-{}-{}", vendor_id.unwrap_or("none"), b.now.fetch_add(1, Ordering::SeqCst));
    let hold = b.ledger.hold(&request(provider, cost * 2), &key).await.unwrap();
    b.ledger.post(&hold, Credits(cost + cost / 4), Credits(cost), vendor_id, &format!("{key}-p")).await.unwrap();
}

/// A call whose outcome is unknown (its intent written, with the vendor id if it came).
async fn unknown(b: &Books, vendor_id: Option<&str>, key: &str) -> HoldId {
    let hold = b.ledger.hold(&request("replicate", 100), key).await.unwrap();
    b.ledger.record_intent(&hold, vendor_id).await.unwrap();
    b.ledger.mark_unknown(&hold).await.unwrap();
    hold
}

fn options(provider: &str, chunk_rows: usize) -> Options {
    let mut o = Options::new(provider, NOV_1, NOV_1 + 30 * DAY, USD_PER_CREDIT, 0.25);
    o.chunk_rows = chunk_rows;
    o
}

fn input(text: String) -> Vec<(String, Box<dyn std::io::Read + Send>)> {
    vec![("export".to_string(), Box::new(std::io::Cursor::new(text.into_bytes())))]
}

fn prediction(id: &str, seconds: f64, status: &str) -> String {
    format!(
        r#"{{"id":"{id}","model":"black-forest-labs/flux-dev","status":"{status}","metrics":{{"predict_time":{seconds}}},"created_at":"2026-11-02T10:00:00Z"}}"#
    )
}

async fn replicate_case(postgres: bool) {
    let b = books(postgres).await;
    // 200 predictions charged as the export shows them: 1 s at $0.0014 = 0.28 cr, rounded up to 1.
    for i in 0..200 {
        charge(&b, "replicate", Some(&format!("p{i:04}")), 1).await;
    }
    charge(&b, "replicate", Some("p-ledger-only"), 4).await;
    charge(&b, "replicate", Some("p-differs"), 1).await;
    charge(&b, "replicate", Some("p-failed"), 1).await;
    charge(&b, "replicate", None, 3).await;
    charge(&b, "openai", Some("p0001"), 99).await;
    let performed = unknown(&b, Some("p-unknown-done"), "u1").await;
    let never = unknown(&b, Some("p-unknown-never"), "u2").await;
    let no_id = unknown(&b, None, "u3").await;
    let mut rows: Vec<String> = (0..200).rev().map(|i| prediction(&format!("p{i:04}"), 1.0, "succeeded")).collect();
    rows.push(prediction("p-differs", 100.0, "succeeded"));
    rows.push(prediction("p-failed", 1.0, "failed"));
    rows.push(prediction("p-vendor-only", 10.0, "succeeded"));
    rows.push(prediction("p-unknown-done", 20.0, "succeeded"));
    let export = format!(r#"{{"previous":null,"next":null,"results":[{}]}}"#, rows.join(","));
    // A chunk of 7 rows: the export is sorted in 30 spilled runs and merged back.
    let report = reconcile::reconcile(&b.ledger, input(export), &options("replicate", 7)).await.unwrap();
    assert!(report.by_id);
    assert_eq!((report.ledger_rows, report.vendor_rows, report.matched), (203, 204, 202), "{report:#?}");
    let kinds: Vec<(FindingKind, &str)> = report.findings.iter().map(|f| (f.kind, f.key.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (FindingKind::Differs, "p-differs"),
            (FindingKind::ChargedButFailed, "p-failed"),
            (FindingKind::LedgerOnly, "p-ledger-only"),
            (FindingKind::VendorOnly, "p-vendor-only"),
        ]
    );
    assert_eq!((report.unidentified.transfers, report.unidentified.cost), (1, 3), "the charge with no id");
    assert!(report.flagged, "0.14 + 0.014 USD of 0.48 unaccounted is far over 2%: {}", report.variance_pct);
    let settled: Vec<(&str, &Settle)> = report.unknown.iter().map(|u| (u.hold.as_str(), &u.settle)).collect();
    // $0.028: 6 credits of cost, 7 charged with the margin (the hold reserved 100).
    assert_eq!(
        settled,
        [
            (performed.0.as_str(), &Settle::Post { charge: 7, cost: 6 }),
            (never.0.as_str(), &Settle::Void),
            (no_id.0.as_str(), &Settle::Leave),
        ]
    );
    assert!(report.unknown[0].evidence.contains("lists p-unknown-done at $0.0280"), "{:?}", report.unknown[0]);
    assert_eq!(reconcile::apply(&b.ledger, &report).await.unwrap(), (1, 1));
    assert_eq!(reconcile::apply(&b.ledger, &report).await.unwrap(), (1, 1), "a second apply replays");
    let holds = b.ledger.holds(Some("acme/studio"), false).await.unwrap();
    let state =
        |id: &HoldId| holds.iter().find(|h| h.id == id.0).map(|h| (h.state.clone(), h.posted, h.evidence.clone()));
    assert_eq!(state(&performed).map(|s| (s.0, s.1)), Some(("posted".into(), 7)));
    assert!(state(&never).unwrap().2.unwrap().contains("never performed"));
    assert_eq!(state(&no_id).unwrap().0, "unknown");
    assert_eq!(b.ledger.total().await.unwrap(), 0);
    if let Some(db) = b.db {
        drop(b.ledger);
        db.drop_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_predictions_reconcile_by_id_on_sqlite() {
    replicate_case(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_predictions_reconcile_by_id_on_postgres() {
    replicate_case(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_without_ids_reconcile_by_day() {
    let b = books(false).await;
    for cost in [200, 300] {
        charge(&b, "openai", Some("req"), cost).await;
    }
    b.now.fetch_add(DAY, Ordering::SeqCst);
    charge(&b, "openai", None, 100).await;
    // OpenAI's Costs API: day 2 billed $2.50 (500 cr, as charged), day 3 $1.00 (the ledger
    // charged 100 cr = $0.50), day 4 $0.20 with nothing in the ledger.
    let bucket = |day: i64, usd: f64| {
        let start = (NOV_1 + day * DAY) / 1000;
        format!(
            r#"{{"object":"bucket","start_time":{start},"end_time":{},"results":[{{"object":"organization.costs.result","amount":{{"value":{usd},"currency":"usd"}},"line_item":"Image models","project_id":null}}]}}"#,
            start + 86_400
        )
    };
    let page = format!(
        r#"{{"object":"page","data":[{},{},{}],"has_more":false,"next_page":null}}"#,
        bucket(1, 2.5),
        bucket(2, 1.0),
        bucket(3, 0.2)
    );
    let report = reconcile::reconcile(&b.ledger, input(page), &options("openai", 1000)).await.unwrap();
    assert!(!report.by_id);
    assert!(report.how.contains("no request ids"), "{}", report.how);
    let kinds: Vec<(FindingKind, &str)> = report.findings.iter().map(|f| (f.kind, f.key.as_str())).collect();
    assert_eq!(kinds, [(FindingKind::Differs, "2026-11-03"), (FindingKind::VendorOnly, "2026-11-04")]);
    assert!((report.variance_pct - (3.7 - 3.0) / 3.7 * 100.0).abs() < 1e-6, "{}", report.variance_pct);
    // A fal billing CSV without ids, by day, flagged only above its threshold.
    charge(&b, "fal", None, 400).await;
    let csv = "date,amount_usd\n2026-11-03,2.02\n".to_string();
    let mut opts = options("fal", 1000);
    opts.format = Format::Csv;
    let report = reconcile::reconcile(&b.ledger, input(csv.clone()), &opts).await.unwrap();
    assert_eq!((report.matched, report.findings_total, report.flagged), (1, 0, false), "{report:#?}");
    opts.threshold_pct = 0.5;
    assert!(reconcile::reconcile(&b.ledger, input(csv), &opts).await.unwrap().flagged, "1% over a 0.5% threshold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_exports_say_where() {
    let b = books(false).await;
    let cases = [
        (Format::Replicate, r#"{"results":[{"id":1}]}"#, "item 0"),
        (Format::Replicate, r#"{"predictions":[]}"#, "no \"results\" list"),
        (Format::Csv, "id,amount_usd\nx,abc\n", "line 2: amount \"abc\""),
        (Format::Csv, "id,note\nx,1\n", "no amount column"),
        (Format::Csv, "note,amount_usd\nx,1\n", "neither an id column nor a day"),
        (Format::Csv, "date,amount_usd\n11/03/2026,1\n", "not YYYY-MM-DD"),
        (Format::ElevenLabs, "[1,2]", "the JSON export"),
    ];
    for (format, text, says) in cases {
        let mut opts = options("replicate", 1000);
        opts.format = format;
        let e = reconcile::reconcile(&b.ledger, input(text.to_string()), &opts).await.unwrap_err();
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elevenlabs_history_is_priced_by_characters_and_model() {
    let b = books(false).await;
    // 1,000 multilingual characters = $0.10 = 20 cr; 1,000 flash characters = $0.05 = 10 cr.
    charge(&b, "elevenlabs", Some("req-a"), 20).await;
    charge(&b, "elevenlabs", Some("req-b"), 10).await;
    let item = |id: &str, req: &str, model: &str| {
        format!(
            r#"{{"history_item_id":"{id}","request_id":"{req}","voice_id":"v","model_id":"{model}","text":"…","date_unix":1793577600,"character_count_change_from":5000,"character_count_change_to":6000,"content_type":"audio/mpeg","state":"created"}}"#
        )
    };
    let page = format!(
        r#"{{"history":[{},{}],"has_more":false,"last_history_item_id":"h2"}}"#,
        item("h1", "req-a", "eleven_multilingual_v2"),
        item("h2", "req-b", "eleven_flash_v2_5")
    );
    let report = reconcile::reconcile(&b.ledger, input(page), &options("elevenlabs", 1000)).await.unwrap();
    assert_eq!((report.matched, report.findings_total, report.flagged), (2, 0, false), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bfl_is_reconciled_by_its_balance_over_the_window() {
    let b = books(false).await;
    charge(&b, "bfl", Some("task-1"), 1_000).await;
    charge(&b, "bfl", Some("task-2"), 600).await;
    let balances = |start: &str, end: &str| {
        let mut v: Vec<(String, Box<dyn std::io::Read + Send>)> = Vec::new();
        for (name, text) in [("start.json", start), ("end.json", end)] {
            v.push((name.into(), Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))));
        }
        v
    };
    // 1,600 cr of cost = $8.00 = 800 BFL credits.
    let opts = options("bfl", 1000);
    assert_eq!(opts.format, Format::BflCredits);
    let report = reconcile::reconcile(&b.ledger, balances(r#"{"credits": 1000.0}"#, r#"{"credits": 200.0}"#), &opts)
        .await
        .unwrap();
    assert_eq!((report.matched, report.findings_total, report.flagged), (1, 0, false), "{report:#?}");
    assert!(report.how.contains("balance"), "{}", report.how);
    let report = reconcile::reconcile(&b.ledger, balances(r#"{"credits": 1000.0}"#, r#"{"credits": 100.0}"#), &opts)
        .await
        .unwrap();
    assert!(report.flagged && report.findings[0].kind == FindingKind::Differs, "$9 billed, $8 charged: {report:#?}");
    for (start, end, says) in [
        (r#"{"credits": 1.0}"#, r#"{"credits": 5.0}"#, "the balance rose"),
        (r#"{"balance": 1}"#, r#"{"credits": 5.0}"#, "not BFL's credits reply"),
    ] {
        let e = reconcile::reconcile(&b.ledger, balances(start, end), &opts).await.unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    let one = vec![("a".to_string(), Box::new(std::io::Cursor::new(b"{}".to_vec())) as Box<dyn std::io::Read + Send>)];
    assert!(reconcile::reconcile(&b.ledger, one, &opts).await.unwrap_err().to_string().contains("two balances"));
}
