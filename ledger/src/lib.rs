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
//! Two stores hold it, through one SQL text (sqlx's `Any` driver, `$N` placeholders):
//! SQLite, the embedded default (WAL, `synchronous=FULL`, one writer at a time through
//! `BEGIN IMMEDIATE`), and PostgreSQL, for servers and farms, where many processes write at
//! once under READ COMMITTED: a hold locks the lots it spends (`FOR UPDATE`, in spending
//! order), a settlement locks its hold and its run reservation, and an idempotency key is
//! claimed by inserting its row first, so a concurrent replay waits for the first outcome.
//! See [`store`] and `migrations/{sqlite,postgres}`.

mod alerts;
mod analytics;
mod batch;
mod error;
mod grants;
mod history;
mod holds;
mod keys;
mod members;
mod payments;
pub mod plans;
mod reports;
mod reserve;
mod shared;
mod standing;
pub mod store;
mod subscriptions;
mod types;
mod usage;
mod velocity;

use std::sync::Arc;

use sqlx::AnyPool;

pub use error::LedgerError;
pub use store::{Backend, Location};

/// The most credits one grant, hold, charge or cap may move: 10^12 credits, far beyond any
/// real purchase, and small enough that no sum of them overflows a 64-bit balance.
pub const AMOUNT_MAX: i64 = 1_000_000_000_000;

/// The default ledger: `SWITCHYARD_LEDGER` (a file, or a `postgres://` URL), else
/// `switchyard/ledger.db` in the user's data folder; `None` when there is no data folder.
/// Every front end finds it here.
pub fn default_location() -> Option<Location> {
    match std::env::var("SWITCHYARD_LEDGER") {
        Ok(value) if !value.trim().is_empty() => Some(Location::parse(&value)),
        _ => dirs::data_dir().map(|d| Location::File(d.join("switchyard").join("ledger.db"))),
    }
}
pub use alerts::{AlertEndpoint, Delivery};
pub use analytics::{Dim, UsageRecord, UsageTotals};
pub use grants::GrantReceipt;
pub use history::to_csv;
pub use holds::{HoldId, Posted, Recovery, Resolution};
pub use members::MemberUse;
pub use payments::{PaymentAction, PaymentEvent, PaymentOutcome};
pub use reports::StoredReport;
pub use shared::{Closed, SharedTx};
pub use standing::{BillingAudit, Decision, Dunning, Raise, Review, Standing};
pub use subscriptions::{HoldRecord, SEATS_MAX};
pub use types::{Audit, Balance, Credits, Grant, HoldRequest, Source, TransferRecord};
pub use usage::{Unidentified, VendorCost};
pub use velocity::{PromptMark, SpendFacts};

/// The current time in unix milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A ledger over one database.
#[derive(Clone)]
pub struct Ledger {
    pool: AnyPool,
    clock: Clock,
    backend: Backend,
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

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Whether a transaction is on PostgreSQL (where read-then-write must lock what it reads).
pub(crate) fn on_postgres(tx: &Tx) -> bool {
    tx.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME
}

impl Ledger {
    /// The same ledger on another clock (for tests and replays).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The ledger's clock now (unix ms): what its timestamps and windows are measured by.
    pub fn now_ms(&self) -> i64 {
        self.now()
    }

    /// Which store holds this ledger.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock up front, so a read-then-write
    /// (check funds, then reserve) is never interleaved with another writer; on PostgreSQL
    /// it is READ COMMITTED, and each read-then-write locks the rows it will change.
    async fn begin(&self) -> Result<Tx, LedgerError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await?,
        })
    }

    /// The sum of every account's credits minus debits: zero, always.
    pub async fn total(&self) -> Result<i64, LedgerError> {
        let sum: Option<i64> =
            sqlx::query_scalar("SELECT CAST(SUM(posted_credits - posted_debits) AS BIGINT) FROM accounts")
                .fetch_one(&self.pool)
                .await?;
        Ok(sum.unwrap_or(0))
    }

    /// Credits reserved by open holds and run reservations, across every wallet and lot
    /// (expired lots included): what reconciliation still owes an answer for.
    pub async fn held_total(&self) -> Result<i64, LedgerError> {
        let held: Option<i64> =
            sqlx::query_scalar("SELECT CAST(SUM(pending_debits) AS BIGINT) FROM accounts WHERE kind = 'lot'")
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
