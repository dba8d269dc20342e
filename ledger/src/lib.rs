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
mod reserve;
mod subscriptions;
mod types;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use error::LedgerError;

/// The most credits one grant, hold, charge or cap may move: 10^12 credits, far beyond any
/// real purchase, and small enough that no sum of them overflows a 64-bit balance.
pub const AMOUNT_MAX: i64 = 1_000_000_000_000;

/// The default ledger file: `SWITCHYARD_LEDGER`, else `switchyard/ledger.db` in the user's
/// data folder; `None` when there is no data folder. Every front end finds it here.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("SWITCHYARD_LEDGER")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("switchyard").join("ledger.db")))
}
pub use grants::GrantReceipt;
pub use history::to_csv;
pub use holds::{HoldId, Posted, Recovery, Resolution};
pub use members::MemberUse;
pub use subscriptions::{HoldRecord, SEATS_MAX};
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

/// The SQLite header's application id of a Switchyard ledger ("SYLD").
const APPLICATION_ID: i64 = 0x5359_4C44;
const _: () = assert!(APPLICATION_ID == 1_398_361_156);

/// Refuses a file that is not a Switchyard ledger, reading it without writing a byte: its
/// application id must be the ledger's, or (a ledger made before the id was set) it must
/// already hold the ledger's own tables.
async fn check_is_ledger(path: &Path) -> Result<(), LedgerError> {
    use sqlx::ConnectOptions as _;
    let foreign = |why: &str| LedgerError::NotALedger { path: path.to_path_buf(), why: why.to_string() };
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?.read_only(true);
    let mut conn = options.connect().await.map_err(|_| foreign("it cannot be opened as a SQLite database"))?;
    let id: i64 = sqlx::query_scalar("PRAGMA application_id")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| foreign("it is not a SQLite database"))?;
    if id == APPLICATION_ID {
        return Ok(());
    }
    if id != 0 {
        return Err(foreign(&format!("its application id is {id:#x}, another program's")));
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .fetch_all(&mut conn)
            .await?;
    let ours = ["_sqlx_migrations", "accounts", "transfers", "holds", "idempotency"];
    match tables.is_empty() || ours.iter().all(|t| tables.iter().any(|n| n == t)) {
        true => Ok(()),
        false => Err(foreign(&format!("it holds other tables ({})", tables.join(", ")))),
    }
}

impl Ledger {
    /// Opens the ledger at `path`, refusing to create one: spending needs credits granted first.
    pub async fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        if !path.is_file() {
            return Err(LedgerError::NoLedger(path.to_path_buf()));
        }
        Self::open(path).await
    }

    /// Opens (creating if needed) the ledger at `path` and brings its schema up to date. A
    /// file that is some other SQLite database (or not one at all) is refused before
    /// anything is written to it.
    pub async fn open(path: &Path) -> Result<Self, LedgerError> {
        let fresh = !path.exists();
        if !fresh {
            check_is_ledger(path).await?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        // 1398361156 is APPLICATION_ID: a PRAGMA takes no bound parameters.
        sqlx::query("PRAGMA application_id = 1398361156").execute(&pool).await?;
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

    /// Credits reserved by open holds and run reservations, across every wallet and lot
    /// (expired lots included): what reconciliation still owes an answer for.
    pub async fn held_total(&self) -> Result<i64, LedgerError> {
        let held: Option<i64> = sqlx::query_scalar("SELECT SUM(pending_debits) FROM accounts WHERE kind = 'lot'")
            .fetch_one(&self.pool)
            .await?;
        Ok(held.unwrap_or(0))
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
