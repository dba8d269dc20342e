//! Many processes against one PostgreSQL ledger: each is a `ledger-load` process with
//! several clients of its own, so the holds race across connections, transactions and
//! operating-system processes, not only tasks in one runtime.

use std::process::{Command, Output};

use switchyard_ledger::{Credits, Grant, Ledger, Source};
use switchyard_testkit::TestDatabase;

/// Starts `ledger-load` once per entry of `runs` (its extra arguments), all at once, and
/// returns each one's JSON report.
fn race(url: &str, runs: &[Vec<String>]) -> Vec<serde_json::Value> {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            Command::new(env!("CARGO_BIN_EXE_ledger-load"))
                .arg(url)
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("ledger-load starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let Output { status, stdout, stderr } = child.wait_with_output().expect("ledger-load ends");
            assert!(status.success(), "ledger-load failed: {}", String::from_utf8_lossy(&stderr));
            serde_json::from_slice(&stdout).expect("one JSON report")
        })
        .collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sum(reports: &[serde_json::Value], field: &str) -> u64 {
    reports.iter().map(|r| r[field].as_u64().unwrap_or(0)).sum()
}

#[test]
fn processes_racing_on_one_postgres_wallet_admit_exactly_what_fits() {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
        let db = TestDatabase::create().await;
        let ledger = Ledger::connect_postgres(&db.url, 4).await.unwrap();
        let grant = |wallet: &str, amount| Grant {
            wallet: wallet.into(),
            amount: Credits(amount),
            source: Source::Pack,
            expires_at_ms: None,
            reason: "test".into(),
            rollover_cap: 0,
        };
        ledger.grant(&grant("farm", 1_000), "g-farm").await.unwrap();
        ledger.grant(&grant("same", 10_000), "g-same").await.unwrap();

        // 4 processes × 4 clients × 25 holds of 3 cr = 1,200 cr asked of 1,000: exactly
        // 333 fit, whichever process wins each race; two of the processes batch.
        let runs: Vec<_> = (0..4)
            .map(|p| {
                let prefix = format!("p{p}");
                let batch = if p % 2 == 0 { "0" } else { "5" };
                args(&["--wallet", "farm", "--clients", "4", "--holds", "25", "--amount", "3", "--prefix", &prefix])
                    .into_iter()
                    .chain(args(&["--batch", batch, "--connections", "4"]))
                    .collect()
            })
            .collect();
        let reports = race(&db.url, &runs);
        assert_eq!(sum(&reports, "admitted"), 333, "{reports:?}");
        assert_eq!(sum(&reports, "refused"), 400 - 333, "{reports:?}");
        let farm = ledger.balance("farm").await.unwrap();
        assert_eq!((farm.held, farm.available), (Credits(999), Credits(1)));

        // 3 processes replay the very same 40 keys at once: each sees all 40 succeed, and
        // the wallet holds them once.
        let same = args(&["--wallet", "same", "--clients", "2", "--holds", "20", "--amount", "7", "--prefix", "same"]);
        let reports = race(&db.url, &[same.clone(), same.clone(), same]);
        assert!(reports.iter().all(|r| r["admitted"] == 40), "{reports:?}");
        assert_eq!(ledger.balance("same").await.unwrap().held, Credits(40 * 7), "one hold per key, not three");
        assert_eq!(ledger.holds(Some("same"), true).await.unwrap().len(), 40);

        assert_eq!(ledger.total().await.unwrap(), 0);
        assert!(ledger.lowest_available().await.unwrap() >= 0);
        drop(ledger);
        db.drop_now().await;
    });
}
