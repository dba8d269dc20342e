//! Run reservations: admission reserves a run's most before anything starts, as one hold
//! of kind `run`, so runs started together are admitted only while their most fits (and a
//! member's cap with them). The run's node holds are carved from it, moving reserved lots
//! from the reservation to the node's hold without touching the wallet; what a node does
//! not charge goes back to the reservation, and closing the run releases what is left.

use crate::holds::{HoldId, Posted, insert_hold, insert_leg, legs};
use crate::keys::{fingerprint, keyed};
use crate::types::{Audit, Credits, HoldRequest};
use sqlx::AssertSqlSafe;

use crate::{Ledger, LedgerError, Tx, on_postgres};

impl Ledger {
    /// Reserves `amount` of `wallet` (and of `member`'s cap) for run `run_id`, or refuses
    /// with what is available: the admission of a run.
    pub async fn reserve_run(
        &self,
        wallet: &str,
        member: Option<&str>,
        amount: Credits,
        timeout_ms: i64,
        run_id: &str,
    ) -> Result<HoldId, LedgerError> {
        let req = HoldRequest {
            wallet: wallet.to_string(),
            amount,
            timeout_ms,
            audit: Audit { run_id: Some(run_id.to_string()), ..Audit::default() },
            member: member.map(str::to_string),
            parent: None,
        };
        crate::holds::check_request(&req)?;
        let key = format!("{run_id}:reserve");
        let hash = fingerprint(&("reserve", &req));
        keyed!(self, &key, &hash, |tx| self.hold_in(tx, &req, &key, "run").await)
    }

    /// Closes a run's reservation, releasing what its nodes did not draw.
    pub async fn release_run(&self, reservation: &HoldId, run_id: &str) -> Result<Posted, LedgerError> {
        let key = format!("{run_id}:release");
        let hash = fingerprint(&("release", reservation));
        keyed!(self, &key, &hash, |tx| self.release(tx, reservation, "released").await)
    }

    /// What is left of a run reservation (0 once closed).
    pub async fn reservation_left(&self, reservation: &HoldId) -> Result<Credits, LedgerError> {
        let left: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(l.amount) AS BIGINT) FROM hold_legs l JOIN holds h ON h.id = l.hold_id \
             WHERE h.id = $1 AND h.state = 'pending'",
        )
        .bind(&reservation.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(Credits(left.unwrap_or(0)))
    }
}

/// Carves hold `id` for `req.amount` out of the open reservation `parent`. `false` (and
/// nothing written) when a run reservation is not open, is another wallet's, or has too
/// little; a task reservation (the farm's) in that case refuses the hold outright, so no
/// paid call starts once its task was cancelled or taken back.
pub(crate) async fn carve(
    tx: &mut Tx,
    req: &HoldRequest,
    parent: &str,
    id: &str,
    now: i64,
) -> Result<bool, LedgerError> {
    // Locked on PostgreSQL: two holds carving from one reservation take turns.
    let lock = if on_postgres(tx) { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT state, wallet, member, kind FROM holds WHERE id = $1 AND kind IN ('run', 'task'){lock}");
    let row: Option<(String, String, Option<String>, String)> =
        sqlx::query_as(AssertSqlSafe(sql)).bind(parent).fetch_optional(&mut **tx).await?;
    let Some((state, wallet, member, kind)) = row else { return Ok(false) };
    let strict = kind == "task";
    let closed = || LedgerError::ReservationClosed { hold: parent.to_string(), state: state.clone() };
    if state != "pending" || wallet != req.wallet || member != req.member {
        return if strict { Err(closed()) } else { Ok(false) };
    }
    let parent_id = HoldId(parent.to_string());
    let pool = legs(tx, &parent_id).await?;
    let left = pool.iter().map(|(_, a)| a).sum::<i64>();
    if left < req.amount.0 {
        return match strict {
            true => {
                Err(LedgerError::ReservationShort { hold: parent.to_string(), left: Credits(left), needed: req.amount })
            }
            false => Ok(false),
        };
    }
    insert_hold(tx, id, req, "call", Some(parent), now).await?;
    let mut left = req.amount.0;
    for (seq, (lot, amount)) in pool.iter().enumerate() {
        if left == 0 {
            break;
        }
        let take = left.min(*amount);
        set_leg(tx, parent, lot, amount - take).await?;
        insert_leg(tx, id, seq as i64, lot, take).await?;
        left -= take;
    }
    Ok(true)
}

/// Returns reserved `(lot, amount)` legs to the open run reservation `parent`.
pub(crate) async fn give_to_parent(tx: &mut Tx, parent: &str, back: &[(String, i64)]) -> Result<(), LedgerError> {
    let current = legs(tx, &HoldId(parent.to_string())).await?;
    for (lot, amount) in back.iter().filter(|(_, a)| *a > 0) {
        let had = current.iter().find(|(l, _)| l == lot).map_or(0, |(_, a)| *a);
        set_leg(tx, parent, lot, had + amount).await?;
    }
    Ok(())
}

/// Sets what a reservation holds of `lot` (removing the leg at zero).
async fn set_leg(tx: &mut Tx, hold: &str, lot: &str, amount: i64) -> Result<(), LedgerError> {
    if amount == 0 {
        sqlx::query("DELETE FROM hold_legs WHERE hold_id = $1 AND lot = $2")
            .bind(hold)
            .bind(lot)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    let done = sqlx::query("UPDATE hold_legs SET amount = $1 WHERE hold_id = $2 AND lot = $3")
        .bind(amount)
        .bind(hold)
        .bind(lot)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), -1) + 1 FROM hold_legs WHERE hold_id = $1")
            .bind(hold)
            .fetch_one(&mut **tx)
            .await?;
        insert_leg(tx, hold, seq, lot, amount).await?;
    }
    Ok(())
}
