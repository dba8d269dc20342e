//! Money inside another crate's transaction, so that work and money change together: the
//! farm takes a task's reservation in the transaction that dispatches the task, and closes
//! it in the one that records how the task ended (or takes a dead worker's task back).
//! The caller runs its own statements on [`SharedTx::conn`] between these calls.

use serde::Serialize;
use sqlx::AssertSqlSafe;

use crate::holds::{HoldId, check_key, check_request};
use crate::types::{Credits, HoldRequest};
use crate::{Ledger, LedgerError, Tx, on_postgres};

/// A ledger transaction that another crate's statements share.
pub struct SharedTx(Tx);

impl SharedTx {
    /// The connection, for the caller's statements in the same transaction.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.0
    }

    /// Commits the caller's changes and the ledger's together.
    pub async fn commit(self) -> Result<(), LedgerError> {
        self.0.commit().await?;
        Ok(())
    }
}

/// How a reservation was closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Closed {
    /// What went back to the wallet.
    pub released: Credits,
    /// Call holds still pending whose call never went out, voided.
    pub voided: usize,
    /// Call holds still pending whose call may have gone out, left unknown for reconciliation.
    pub unknown: usize,
}

impl Ledger {
    /// Begins a write transaction that the caller's statements share.
    pub async fn begin_shared(&self) -> Result<SharedTx, LedgerError> {
        Ok(SharedTx(self.begin().await?))
    }

    /// Reserves `req.amount` of `req.wallet` (and of its member's cap) within `tx`, as a task
    /// reservation that call holds carve from (their `parent`); its id is `hold:{key}`. Unlike
    /// a run reservation, a call hold never falls back to the wallet: once this reservation
    /// is closed or spent, a hold drawing on it is refused. A
    /// refusal (insufficient funds, the member's cap) changes nothing and leaves `tx` usable.
    pub async fn reserve_in(&self, tx: &mut SharedTx, req: &HoldRequest, key: &str) -> Result<HoldId, LedgerError> {
        check_request(req)?;
        check_key(key)?;
        sqlx::query("SAVEPOINT reserve_in").execute(&mut *tx.0).await?;
        match self.hold_in(&mut tx.0, req, key, "task").await {
            Ok(hold) => {
                sqlx::query("RELEASE SAVEPOINT reserve_in").execute(&mut *tx.0).await?;
                Ok(hold)
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT reserve_in").execute(&mut *tx.0).await?;
                Err(e)
            }
        }
    }

    /// Closes reservation `hold` within `tx`: its call holds that are still pending are
    /// voided when their call never went out, and left unknown (kept reserved on their own,
    /// for reconciliation) when it may have; then what is left goes back to the wallet.
    /// Closing a reservation that is already closed releases nothing.
    pub async fn close_in(&self, tx: &mut SharedTx, hold: &HoldId) -> Result<Closed, LedgerError> {
        let lock = if on_postgres(&tx.0) { " FOR UPDATE" } else { "" };
        // Children before their reservation: the order every settlement locks in.
        let sql = format!("SELECT id, sent_at_ms FROM holds WHERE parent = $1 AND state = 'pending' ORDER BY id{lock}");
        let open: Vec<(String, Option<i64>)> =
            sqlx::query_as(AssertSqlSafe(sql)).bind(&hold.0).fetch_all(&mut *tx.0).await?;
        let mut closed = Closed::default();
        for (id, sent) in open {
            let child = HoldId(id);
            if sent.is_some() {
                crate::holds::mark_unknown_in(&mut tx.0, &child).await?;
                closed.unknown += 1;
            } else {
                self.release(&mut tx.0, &child, "voided").await?;
                closed.voided += 1;
            }
        }
        let sql = format!("SELECT state FROM holds WHERE id = $1{lock}");
        let state: Option<String> =
            sqlx::query_scalar(AssertSqlSafe(sql)).bind(&hold.0).fetch_optional(&mut *tx.0).await?;
        match state.as_deref() {
            Some("pending") => closed.released = self.release(&mut tx.0, hold, "released").await?.released,
            Some(_) => {}
            None => return Err(LedgerError::UnknownHold(hold.0.clone())),
        }
        Ok(closed)
    }
}
