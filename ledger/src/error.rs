//! What a ledger mutation can refuse, in words that say what and what next.

use crate::types::Credits;

/// A refused or failed ledger operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Not enough unreserved credit.
    #[error("{wallet} has {available} available, {needed} needed; top up or lower the budget")]
    InsufficientFunds {
        /// The wallet.
        wallet: String,
        /// What it has.
        available: Credits,
        /// What was asked.
        needed: Credits,
    },
    /// A team member's monthly cap would be exceeded.
    #[error(
        "{member} has used {used} of a {cap} monthly cap in {pool}; {needed} more is over it; raise it with `switchyard credits member --name {member} --cap N`"
    )]
    MemberCapReached {
        /// The pool.
        pool: String,
        /// The member.
        member: String,
        /// The cap.
        cap: Credits,
        /// Spent this month plus held.
        used: Credits,
        /// What was asked.
        needed: Credits,
    },
    /// No such member in the pool.
    #[error("no member {member:?} in {pool:?}; add one with `switchyard credits member --name {member} --cap N`")]
    UnknownMember {
        /// The pool.
        pool: String,
        /// The member.
        member: String,
    },
    /// No ledger file where one was expected.
    #[error("no ledger at {}; grant credits first with `switchyard credits`", .0.display())]
    NoLedger(std::path::PathBuf),
    /// The file is not a Switchyard ledger; nothing was written to it.
    #[error("{} is not a Switchyard ledger ({why}); nothing was written to it; pass the ledger's own file with --ledger", path.display())]
    NotALedger {
        /// The file.
        path: std::path::PathBuf,
        /// What gave it away.
        why: String,
    },
    /// A team pool spent without naming the member.
    #[error("{pool} is a team pool with member caps; name who spends with --member NAME (members: {members})")]
    MemberRequired {
        /// The pool.
        pool: String,
        /// Its members.
        members: String,
    },
    /// An unknown hold settled without evidence.
    #[error("settling hold {0} by hand needs evidence (the vendor's invoice line, dashboard record or ticket)")]
    NoEvidence(String),
    /// No such wallet.
    #[error("no wallet {0:?}; create it with `switchyard credits grant` or `topup`")]
    UnknownWallet(String),
    /// No such hold.
    #[error("no hold {0:?}")]
    UnknownHold(String),
    /// The hold is already settled.
    #[error("hold {id} is already {state}")]
    Settled {
        /// The hold.
        id: String,
        /// Its state.
        state: String,
    },
    /// A post larger than its hold.
    #[error("hold {id} reserved {held}; it cannot post {asked}")]
    OverPost {
        /// The hold.
        id: String,
        /// What it reserved.
        held: Credits,
        /// What was asked.
        asked: Credits,
    },
    /// An amount that is not positive (or a cost above its charge).
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// An idempotency key reused for a different request.
    #[error("idempotency key {0:?} was used for a different request; use a new key")]
    KeyReused(String),
    /// An idempotency key whose first use failed: it stays failed.
    #[error("idempotency key {key:?} already failed: {message}")]
    KeyFailed {
        /// The key.
        key: String,
        /// The first failure.
        message: String,
    },
    /// A call hold drew on a task reservation that is closed (its task was cancelled or
    /// taken back from its worker): no new paid call may start for it.
    #[error(
        "reservation {hold} is {state}: its task was cancelled or taken back, so no new paid call starts; nothing was charged"
    )]
    ReservationClosed {
        /// The reservation.
        hold: String,
        /// Its state.
        state: String,
    },
    /// A call hold asked a task reservation for more than it has left.
    #[error(
        "reservation {hold} has {left} left, {needed} needed; the call costs more than the task was quoted; nothing was charged"
    )]
    ReservationShort {
        /// The reservation.
        hold: String,
        /// What it has left.
        left: Credits,
        /// What was asked.
        needed: Credits,
    },
    /// The ledger is behind a server (a remote farm worker's) that did not answer.
    #[error("the ledger's server did not answer: {0}")]
    Unreachable(String),
    /// The ledger's server refused the request: its code and message.
    #[error("{message} ({code})")]
    Refused {
        /// The server's stable code.
        code: String,
        /// What it said.
        message: String,
    },
    /// The wallet may not start new paid work (suspended, or paused by a review); work
    /// already admitted goes on.
    #[error("{wallet} cannot start new paid work: {why}; {next}; nothing was charged")]
    SpendingPaused {
        /// The wallet.
        wallet: String,
        /// Why.
        why: String,
        /// What lifts it.
        next: String,
    },
    /// A payment event names a customer no wallet is bound to (yet).
    #[error("no wallet is bound to customer {0:?} yet; its checkout or a `billing bind` binds it")]
    UnknownCustomer(String),
    /// A payment event names a payment the ledger never granted for (yet).
    #[error("no payment {0:?} in the ledger yet")]
    UnknownPayment(String),
    /// No such review.
    #[error("no review {0:?}")]
    UnknownReview(String),
    /// The database failed.
    #[error("ledger database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("ledger migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl LedgerError {
    /// Whether the failure belongs to the request (and so is remembered under its key),
    /// rather than to the database.
    pub fn is_final(&self) -> bool {
        !matches!(self, LedgerError::Database(_) | LedgerError::Migrate(_) | LedgerError::Unreachable(_))
    }

    /// Whether the database gave up on the transaction only because of a concurrent one (a
    /// deadlock or a serialization failure on PostgreSQL): the whole transaction may run again.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            LedgerError::Database(sqlx::Error::Database(e)) => matches!(e.code().as_deref(), Some("40001" | "40P01")),
            _ => false,
        }
    }
}
