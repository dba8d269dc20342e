//! Usage analytics on a real ledger: records grouped by provider, model, node type, member
//! and day, local work's share and savings, members against caps, and the charts drawn.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_ledger::{Credits, Grant, Ledger, Source, UsageRecord};
use switchyard_ops::usage;

/// 2026-11-02T10:00:00Z.
const NOV_2: i64 = 1_793_613_600_000;
const DAY: i64 = 86_400_000;

fn record(node: &str, provider: &str, credits: i64, local: bool, failed: bool) -> UsageRecord {
    UsageRecord {
        node_id: node.into(),
        node_type: if local { "cloud.upscale".into() } else { "cloud.image.generate".into() },
        provider: provider.into(),
        model: if local { "realesrgan-x4".into() } else { format!("{provider}-model") },
        local,
        failed,
        credits,
        cloud_equiv: if local { 30 } else { 0 },
        gco2eq: 0.5,
    }
}

#[tokio::test]
async fn a_months_usage_is_grouped_and_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOV_2));
    let clock = Arc::clone(&now);
    let ledger = Ledger::open(&dir.path().join("l.db"))
        .await
        .unwrap()
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let grant = Grant {
        wallet: "acme/team".into(),
        amount: Credits(10_000),
        source: Source::Pack,
        expires_at_ms: None,
        reason: "p".into(),
        rollover_cap: 0,
    };
    ledger.grant(&grant, "g").await.unwrap();
    ledger.set_member_cap("acme/team", "ana", Credits(500)).await.unwrap();
    let run1 = [record("gen", "bfl", 40, false, false), record("up", "local", 0, true, false)];
    ledger.record_usage("run-1", "acme/team", Some("ana"), &run1).await.unwrap();
    ledger.record_usage("run-1", "acme/team", Some("ana"), &run1).await.unwrap();
    now.fetch_add(DAY, Ordering::SeqCst);
    let run2 = [record("gen", "openai", 60, false, false), record("gen2", "bfl", 0, false, true)];
    ledger.record_usage("run-2", "acme/team", Some("bo"), &run2).await.unwrap();
    ledger.record_usage("run-3", "other/w", None, &[record("gen", "bfl", 999, false, false)]).await.unwrap();

    let r = usage::report(&ledger, "acme/team", "2026-11").await.unwrap();
    let t = r.total.clone().unwrap();
    assert_eq!(
        (t.credits, t.calls, t.failures, t.runs, t.local_calls, t.savings),
        (100, 4, 1, 2, 1, 30),
        "a replay counts once; another tenant not at all"
    );
    assert_eq!(t.credits_per_run(), 50.0);
    let keys =
        |rows: &[switchyard_ledger::UsageTotals]| rows.iter().map(|r| (r.key.clone(), r.credits)).collect::<Vec<_>>();
    assert_eq!(keys(&r.by_provider), [("bfl".into(), 40), ("local".into(), 0), ("openai".into(), 60)]);
    assert_eq!(keys(&r.by_member), [("ana".into(), 40), ("bo".into(), 60)]);
    assert_eq!(keys(&r.by_day), [("2026-11-02".into(), 40), ("2026-11-03".into(), 60)]);
    assert_eq!(r.per_day.days.len(), 30);
    assert_eq!(r.per_day.series.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["bfl", "openai"]);
    assert_eq!(r.savings.series[1].1[1], 30, "the local upscale saved its cheapest cloud price");
    assert_eq!(r.caps, [("ana".to_string(), 40, 500), ("bo".to_string(), 60, 0)]);
    let tenant = usage::report(&ledger, "acme/", "2026-11").await.unwrap();
    assert_eq!(tenant.total.unwrap().credits, 100, "a tenant's prefix");
    let text = usage::table(&r);
    assert!(text.contains("100 cr over 2 runs (50.0 cr a run), 4 nodes (1 failed)"), "{text}");
    assert!(text.contains("25% of nodes ran locally, saving 30 cr"), "{text}");
    let files = usage::write_charts(&r, &dir.path().join("charts")).unwrap();
    if let Ok(keep) = std::env::var("KEEP_USAGE_CHARTS") {
        usage::write_charts(&r, std::path::Path::new(&keep)).unwrap();
    }
    assert_eq!(files.len(), 6);
    assert!(usage::report(&ledger, "acme/team", "2026-13").await.is_err());
    assert_eq!(usage::days_of("2024-02").map(|d| d.len()), Some(29));
}
