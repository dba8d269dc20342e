//! Switchyard's credit ledger. Credits live in *lots* (one per grant, with its source, expiry
//! and spending priority) owned by a wallet. Every movement is an immutable double-entry
//! transfer, and each account's balance is updated in the same transaction, guarded by a
//! check that no ordinary account goes below zero. Paid calls use two phases, after
//! TigerBeetle: a *hold* reserves the most a call may cost (checked and reserved in one
//! conditional update, so concurrent holds can never overdraw), then a *post* charges the
//! metered amount (at most the hold) or a *void* releases it. Every mutation takes an
//! idempotency key: a replay returns the first result, a key reused for a different request
//! is refused, and a key whose first use failed stays failed.
//!
//! The store is SQLite through sqlx (WAL, `synchronous=FULL`, migrations in `migrations/`).
//! The SQL is kept portable for PostgreSQL; only the `?` placeholders and `BEGIN IMMEDIATE`
//! are SQLite's.

mod batch;
mod error;
mod grants;
mod history;
mod holds;
mod keys;
mod members;
pub mod plans;
mod subscriptions;
mod types;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use error::LedgerError;

/// The default ledger file: `SWITCHYARD_LEDGER`, else `switchyard/ledger.db` in the user's
/// data folder; `None` when there is no data folder. Every front end finds it here.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("SWITCHYARD_LEDGER")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("switchyard").join("ledger.db")))
}
pub use grants::GrantReceipt;
pub use history::to_csv;
pub use holds::{HoldId, Posted, Recovery};
pub use members::MemberUse;
pub use subscriptions::HoldRecord;
pub use types::{Audit, Balance, Credits, Grant, HoldRequest, Source, TransferRecord};

/// The current time in unix milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A ledger over one database.
#[derive(Clone)]
pub struct Ledger {
    pool: SqlitePool,
    clock: Clock,
}

/// The system accounts every ledger has.
pub mod system {
    /// Where granted credit comes from (the outside world); may go negative.
    pub fn source(source: crate::Source) -> String {
        format!("source:{}", source.name())
    }
    /// Where expired credit goes.
    pub const BREAKAGE: &str = "breakage";
    /// The platform's margin on charges.
    pub const MARGIN: &str = "margin";
    /// What is owed to a provider.
    pub fn payable(provider: &str) -> String {
        format!("payable:{provider}")
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

impl Ledger {
    /// Opens the ledger at `path`, refusing to create one: spending needs credits granted first.
    pub async fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        if !path.is_file() {
            return Err(LedgerError::NoLedger(path.to_path_buf()));
        }
        Self::open(path).await
    }

    /// Opens (creating if needed) the ledger at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, LedgerError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let clock: Clock = Arc::new(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
        });
        Ok(Self { pool, clock })
    }

    /// The same ledger on another clock (for tests and replays).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// A write transaction that takes SQLite's write lock up front, so a read-then-write
    /// (check funds, then reserve) is never interleaved with another writer.
    async fn begin(&self) -> Result<Tx, LedgerError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The sum of every account's credits minus debits: zero, always.
    pub async fn total(&self) -> Result<i64, LedgerError> {
        let sum: Option<i64> = sqlx::query_scalar("SELECT SUM(posted_credits - posted_debits) FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        Ok(sum.unwrap_or(0))
    }

    /// The lowest available balance among accounts that may not go negative.
    pub async fn lowest_available(&self) -> Result<i64, LedgerError> {
        let low: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(posted_credits - posted_debits - pending_debits) FROM accounts WHERE allow_negative = 0",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(low.unwrap_or(0))
    }
}
