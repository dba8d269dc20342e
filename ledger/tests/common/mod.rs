//! The fixture the ledger's test files share: a fresh ledger on SQLite or PostgreSQL, on a
//! clock the test moves, and `on_both!`, which runs one test on each store.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_ledger::Ledger;
use switchyard_testkit::TestDatabase;

/// The store a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    Sqlite,
    Postgres,
}

pub struct Fixture {
    pub ledger: Ledger,
    pub now: Arc<AtomicI64>,
    pub _dir: tempfile::TempDir,
    pub database: Option<TestDatabase>,
}

impl Fixture {
    /// Drops the test's PostgreSQL database (a SQLite file goes with its folder).
    pub async fn finish(self) {
        drop(self.ledger);
        if let Some(db) = self.database {
            db.drop_now().await;
        }
    }
}

/// A fresh ledger on `store`: a SQLite file in a folder of its own, or a PostgreSQL
/// database of its own; on a clock the test moves.
pub async fn ledger(store: Store) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_000_000));
    let clock = Arc::clone(&now);
    let (ledger, database) = match store {
        Store::Sqlite => (Ledger::open(&dir.path().join("ledger.db")).await.unwrap(), None),
        Store::Postgres => {
            let db = TestDatabase::create().await;
            (Ledger::connect_postgres(&db.url, 8).await.unwrap(), Some(db))
        }
    };
    let ledger = ledger.with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    Fixture { ledger, now, _dir: dir, database }
}

/// One test, run twice: on SQLite (`NAME::sqlite`) and on PostgreSQL (`NAME::postgres`).
macro_rules! on_both {
    ($(#[$meta:meta])* fn $name:ident($f:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            use super::*;

            async fn case($f: &Fixture) $body

            #[test]
            fn sqlite() {
                rt().block_on(async {
                    let f = ledger(Store::Sqlite).await;
                    case(&f).await;
                    f.finish().await;
                })
            }

            #[test]
            fn postgres() {
                rt().block_on(async {
                    let f = ledger(Store::Postgres).await;
                    case(&f).await;
                    f.finish().await;
                })
            }
        }
    };
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
