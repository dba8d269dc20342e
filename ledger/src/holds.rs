//! Two-phase spending: hold (reserve the most a call may cost), then post (charge the metered
//! amount, at most the hold) or void (release it). A hold whose call may have been accepted
//! is marked *unknown* and is never voided by expiry: it waits for reconciliation, where an
//! operator posts or voids it on evidence ([`Ledger::resolve`]).
//!
//! The money rules: a hold is voided only when the provider certainly did not take the work
//! (a refusal, a 4xx before acceptance, a failed connection, a cancel before sending). Once
//! the create may have gone out (its intent is written first, [`Ledger::record_intent`]),
//! the hold is posted (a result came back) or becomes unknown (anything else), and start-up
//! recovery marks a crashed run's sent holds unknown instead of voiding them.

use serde::{Deserialize, Serialize};

use crate::grants::{Entry, credit_account, ensure_account, record};
use crate::keys::{fingerprint, keyed};
use crate::types::{Audit, Credits, HoldRequest};
use sqlx::AssertSqlSafe;

use crate::{AMOUNT_MAX, Ledger, LedgerError, Tx, on_postgres, system};

/// A hold's id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HoldId(pub String);

/// How a hold was settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    /// The hold.
    pub hold: HoldId,
    /// What was charged.
    pub charged: Credits,
    /// What went back to the wallet (or to the run reservation it came from).
    pub released: Credits,
}

/// What start-up recovery found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Holds past their timeout whose call was never sent, voided.
    pub voided: usize,
    /// Holds left open as unknown outcomes, for reconciliation (those found now included).
    pub unknown: usize,
}

/// How an operator settles an unknown hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// The provider charged: post this much, of which `cost` is owed to the provider.
    Post {
        /// Charged to the wallet.
        charge: Credits,
        /// Owed to the provider.
        cost: Credits,
    },
    /// The provider did not charge: release the hold.
    Void,
}

pub(crate) struct HoldRow {
    pub amount: i64,
    pub audit: Audit,
    pub wallet: String,
    pub member: Option<String>,
    /// The open run reservation this hold was carved from, if it is still open.
    pub parent: Option<String>,
}

impl Ledger {
    /// Reserves `req.amount` from the wallet's lots (earliest expiry first, promotional before
    /// paid), or from `req.parent`'s run reservation, or refuses with what is available.
    /// Check and reservation are one atomic step.
    pub async fn hold(&self, req: &HoldRequest, key: &str) -> Result<HoldId, LedgerError> {
        // A malformed request is refused before its key is taken, so the key stays free for
        // the corrected request.
        check_request(req)?;
        check_key(key)?;
        let hash = fingerprint(&("hold", req));
        keyed!(self, key, &hash, |tx| self.hold_in(tx, req, key, "call").await)
    }

    pub(crate) async fn hold_in(
        &self,
        tx: &mut Tx,
        req: &HoldRequest,
        key: &str,
        kind: &str,
    ) -> Result<HoldId, LedgerError> {
        let now = self.now();
        let id = format!("hold:{key}");
        if let Some(parent) = &req.parent
            && crate::reserve::carve(tx, req, parent, &id, now).await?
        {
            return Ok(HoldId(id));
        }
        crate::members::require_member(tx, &req.wallet, req.member.as_deref()).await?;
        // Admission only: a call hold of a run already admitted goes on even when its
        // reservation is short, so running work finishes.
        if req.parent.is_none() {
            crate::standing::check_spendable(tx, &req.wallet, now).await?;
        }
        let mut lots = free_lots(tx, &req.wallet, now).await?;
        let Some(legs) = allocate(&mut lots, req.amount.0) else {
            wallet_exists(&mut **tx, &req.wallet).await?;
            let available = lots.iter().map(|(_, free)| free).sum();
            return Err(LedgerError::InsufficientFunds {
                wallet: req.wallet.clone(),
                available: Credits(available),
                needed: req.amount,
            });
        };
        if let Some(member) = &req.member {
            crate::members::take(tx, &req.wallet, member, req.amount.0, now).await?;
        }
        insert_hold(tx, &id, req, kind, None, now).await?;
        for (seq, (lot, take)) in legs.iter().enumerate() {
            reserve(tx, lot, *take).await?;
            insert_leg(tx, &id, seq as i64, lot, *take).await?;
        }
        Ok(HoldId(id))
    }

    /// Charges `charge` (at most the hold) and releases the rest; `cost` of it is owed to the
    /// provider, the remainder is the platform's margin.
    pub async fn post(
        &self,
        hold: &HoldId,
        charge: Credits,
        cost: Credits,
        vendor_id: Option<&str>,
        key: &str,
    ) -> Result<Posted, LedgerError> {
        self.post_reviewed(hold, charge, cost, vendor_id, None, key).await
    }

    /// [`Ledger::post`], flagging the charge for a person's review (`review` says why: the
    /// provider's figures were not trusted, say).
    pub async fn post_reviewed(
        &self,
        hold: &HoldId,
        charge: Credits,
        cost: Credits,
        vendor_id: Option<&str>,
        review: Option<&str>,
        key: &str,
    ) -> Result<Posted, LedgerError> {
        check_key(key)?;
        check_charge(charge, cost)?;
        let hash = match review {
            None => fingerprint(&("post", hold, charge, cost, vendor_id)),
            Some(r) => fingerprint(&("post", hold, charge, cost, vendor_id, r)),
        };
        keyed!(self, key, &hash, |tx| async {
            let posted = self.post_in(tx, hold, charge, cost, vendor_id, key).await?;
            if let Some(why) = review {
                note(tx, hold, Note::Review, why).await?;
            }
            Ok::<_, LedgerError>(posted)
        }
        .await)
    }

    async fn post_in(
        &self,
        tx: &mut Tx,
        hold: &HoldId,
        charge: Credits,
        cost: Credits,
        vendor_id: Option<&str>,
        key: &str,
    ) -> Result<Posted, LedgerError> {
        let row = open_hold(tx, hold).await?;
        if charge.0 > row.amount {
            return Err(LedgerError::OverPost { id: hold.0.clone(), held: Credits(row.amount), asked: charge });
        }
        let now = self.now();
        let provider = row.audit.provider.clone().unwrap_or_else(|| "unknown".into());
        let payable = system::payable(&provider);
        ensure_account(tx, &payable, "payable", false, now).await?;
        ensure_account(tx, system::MARGIN, "margin", false, now).await?;
        let mut audit = row.audit.clone();
        if let Some(v) = vendor_id {
            audit.vendor_id = Some(v.to_string());
        }
        let entry = Entry { reason: "charge", hold_id: Some(&hold.0), audit: &audit, key: Some(key), now_ms: now };
        let (mut left, mut cost_left) = (charge.0, cost.0);
        let (mut unused, mut moves) = (Vec::new(), Vec::new());
        // The lots first, then the system accounts: every transaction takes row locks in
        // that order on PostgreSQL, so none waits on another in a cycle.
        for (lot, held) in legs(tx, hold).await? {
            let take = left.min(held);
            // What is not charged stays reserved when it goes back to an open run reservation.
            let freed = if row.parent.is_some() { take } else { held };
            sqlx::query(
                "UPDATE accounts SET pending_debits = pending_debits - $1, posted_debits = posted_debits + $2 WHERE id = $3",
            )
            .bind(freed)
            .bind(take)
            .bind(&lot)
            .execute(&mut **tx)
            .await?;
            let to_provider = take.min(cost_left);
            moves.push((lot.clone(), payable.as_str(), to_provider));
            moves.push((lot.clone(), system::MARGIN, take - to_provider));
            if held > take {
                unused.push((lot, held - take));
            }
            (left, cost_left) = (left - take, cost_left - to_provider);
        }
        for account in [payable.as_str(), system::MARGIN] {
            let amount: i64 = moves.iter().filter(|(_, a, _)| *a == account).map(|(_, _, n)| n).sum();
            if amount > 0 {
                credit_account(tx, account, amount).await?;
            }
        }
        for (lot, account, amount) in moves.iter().filter(|(_, _, n)| *n > 0) {
            record(tx, lot, account, *amount, &entry).await?;
        }
        match &row.parent {
            Some(parent) => {
                crate::reserve::give_to_parent(tx, parent, &unused).await?;
                settle_member(tx, &row, charge.0, charge.0).await?;
            }
            None => settle_member(tx, &row, row.amount, charge.0).await?,
        }
        sqlx::query("UPDATE holds SET state = 'posted', posted = $1, vendor_id = $2, settled_at_ms = $3 WHERE id = $4")
            .bind(charge.0)
            .bind(&audit.vendor_id)
            .bind(now)
            .bind(&hold.0)
            .execute(&mut **tx)
            .await?;
        Ok(Posted { hold: hold.clone(), charged: charge, released: Credits(row.amount - charge.0) })
    }

    /// Releases a hold in full (the call was refused, failed before sending, or was
    /// skipped). A hold carved from an open run reservation goes back to it.
    pub async fn void(&self, hold: &HoldId, key: &str) -> Result<Posted, LedgerError> {
        check_key(key)?;
        let hash = fingerprint(&("void", hold));
        keyed!(self, key, &hash, |tx| self.release(tx, hold, "voided").await)
    }

    pub(crate) async fn release(&self, tx: &mut Tx, hold: &HoldId, state: &str) -> Result<Posted, LedgerError> {
        let row = open_hold(tx, hold).await?;
        let legs = legs(tx, hold).await?;
        let reserved: i64 = legs.iter().map(|(_, held)| held).sum();
        match &row.parent {
            Some(parent) => crate::reserve::give_to_parent(tx, parent, &legs).await?,
            None => {
                for (lot, held) in &legs {
                    sqlx::query("UPDATE accounts SET pending_debits = pending_debits - $1 WHERE id = $2")
                        .bind(held)
                        .bind(lot)
                        .execute(&mut **tx)
                        .await?;
                }
                settle_member(tx, &row, reserved, 0).await?;
            }
        }
        sqlx::query("DELETE FROM hold_legs WHERE hold_id = $1").bind(&hold.0).execute(&mut **tx).await?;
        sqlx::query("UPDATE holds SET state = $1, settled_at_ms = $2 WHERE id = $3")
            .bind(state)
            .bind(self.now())
            .bind(&hold.0)
            .execute(&mut **tx)
            .await?;
        Ok(Posted { hold: hold.clone(), charged: Credits(0), released: Credits(reserved) })
    }

    /// Marks a pending hold whose call may have been accepted: it stays reserved, is never
    /// voided by expiry, and waits for reconciliation to post or void it.
    pub async fn mark_unknown(&self, hold: &HoldId) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        mark_unknown_in(&mut tx, hold).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The reservation `hold` draws from, if any (`None` too when there is no such hold).
    pub async fn parent_of(&self, hold: &HoldId) -> Result<Option<String>, LedgerError> {
        let mut tx = self.begin().await?;
        let parent: Option<(Option<String>,)> =
            sqlx::query_as("SELECT parent FROM holds WHERE id = $1").bind(&hold.0).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(parent.and_then(|(p,)| p))
    }

    /// Writes, durably, that the hold's paid call is about to go out (and, once the
    /// provider names it, its request or task id). From then on recovery will not void it.
    pub async fn record_intent(&self, hold: &HoldId, vendor_id: Option<&str>) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE holds SET sent_at_ms = COALESCE(sent_at_ms, $1), vendor_id = COALESCE($2, vendor_id) \
             WHERE id = $3 AND state IN ('pending', 'unknown')",
        )
        .bind(self.now())
        .bind(vendor_id)
        .bind(&hold.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            open_hold(&mut tx, hold).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Start-up recovery: a pending hold past its timeout whose call was never sent is
    /// voided; one whose call may have gone out is marked unknown, for reconciliation.
    /// Call holds go first, so what they give back to a run or task reservation is then released.
    pub async fn recover(&self) -> Result<Recovery, LedgerError> {
        let mut tx = self.begin().await?;
        // On PostgreSQL a hold another process is settling right now is left to it.
        let lock = if on_postgres(&tx) { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "SELECT id, sent_at_ms FROM holds WHERE state = 'pending' AND timeout_at_ms <= $1 \
             ORDER BY CASE kind WHEN 'call' THEN 0 ELSE 1 END, id{lock}"
        );
        let expired: Vec<(String, Option<i64>)> =
            sqlx::query_as(AssertSqlSafe(sql)).bind(self.now()).fetch_all(&mut *tx).await?;
        let mut voided = 0;
        for (id, sent) in &expired {
            let hold = HoldId(id.clone());
            if sent.is_some() {
                detach(&mut tx, &hold).await?;
                sqlx::query("UPDATE holds SET state = 'unknown' WHERE id = $1").bind(id).execute(&mut *tx).await?;
            } else {
                self.release(&mut tx, &hold, "expired").await?;
                voided += 1;
            }
        }
        let unknown: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM holds WHERE state = 'unknown'").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        if !expired.is_empty() || unknown > 0 {
            tracing::warn!(voided, unknown, "ledger recovery");
        }
        Ok(Recovery { voided, unknown: usize::try_from(unknown).unwrap_or(0) })
    }

    /// Settles an unknown hold by hand, on evidence (the vendor's invoice line, dashboard
    /// record or support ticket), which is kept on the hold for the audit trail.
    pub async fn resolve(
        &self,
        hold: &HoldId,
        resolution: Resolution,
        evidence: &str,
        key: &str,
    ) -> Result<Posted, LedgerError> {
        check_key(key)?;
        let evidence = evidence.trim();
        if evidence.is_empty() {
            return Err(LedgerError::NoEvidence(hold.0.clone()));
        }
        if let Resolution::Post { charge, cost } = resolution {
            check_charge(charge, cost)?;
        }
        let hash = fingerprint(&("resolve", hold, resolution, evidence));
        keyed!(self, key, &hash, |tx| self.resolve_in(tx, hold, resolution, evidence, key).await)
    }

    async fn resolve_in(
        &self,
        tx: &mut Tx,
        hold: &HoldId,
        resolution: Resolution,
        evidence: &str,
        key: &str,
    ) -> Result<Posted, LedgerError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM holds WHERE id = $1").bind(&hold.0).fetch_optional(&mut **tx).await?;
        match state.as_deref() {
            None => return Err(LedgerError::UnknownHold(hold.0.clone())),
            Some("unknown") => {}
            Some(other) => {
                return Err(LedgerError::Settled { id: hold.0.clone(), state: format!("{other}, not unknown") });
            }
        }
        let posted = match resolution {
            Resolution::Post { charge, cost } => self.post_in(tx, hold, charge, cost, None, key).await?,
            Resolution::Void => self.release(tx, hold, "voided").await?,
        };
        note(tx, hold, Note::Evidence, evidence).await?;
        Ok(posted)
    }
}

/// A note kept on a hold for the audit trail.
enum Note {
    /// Why a posted charge needs a person's look.
    Review,
    /// What an operator settled an unknown hold on.
    Evidence,
}

/// Writes a note on a hold.
async fn note(tx: &mut Tx, hold: &HoldId, kind: Note, text: &str) -> Result<(), LedgerError> {
    let sql = match kind {
        Note::Review => "UPDATE holds SET review = $1 WHERE id = $2",
        Note::Evidence => "UPDATE holds SET evidence = $1 WHERE id = $2",
    };
    sqlx::query(sql).bind(text).bind(&hold.0).execute(&mut **tx).await?;
    Ok(())
}

/// Marks an open hold unknown within `tx` (see [`Ledger::mark_unknown`]).
pub(crate) async fn mark_unknown_in(tx: &mut Tx, hold: &HoldId) -> Result<(), LedgerError> {
    open_hold(tx, hold).await?;
    detach(tx, hold).await?;
    sqlx::query("UPDATE holds SET state = 'unknown' WHERE id = $1").bind(&hold.0).execute(&mut **tx).await?;
    Ok(())
}

/// A hold that becomes unknown stops drawing from its run reservation: it keeps its own
/// lots reserved, and settles later as a hold of its own.
async fn detach(tx: &mut Tx, hold: &HoldId) -> Result<(), LedgerError> {
    sqlx::query("UPDATE holds SET parent = NULL WHERE id = $1").bind(&hold.0).execute(&mut **tx).await?;
    Ok(())
}

async fn settle_member(tx: &mut Tx, row: &HoldRow, held: i64, charged: i64) -> Result<(), LedgerError> {
    match &row.member {
        Some(m) => crate::members::settle(tx, &row.wallet, m, held, charged).await,
        None => Ok(()),
    }
}

/// Inserts a pending hold row.
pub(crate) async fn insert_hold(
    tx: &mut Tx,
    id: &str,
    req: &HoldRequest,
    kind: &str,
    parent: Option<&str>,
    now: i64,
) -> Result<(), LedgerError> {
    let a = &req.audit;
    sqlx::query(
        "INSERT INTO holds (id, wallet, amount, state, timeout_at_ms, run_id, node_id, provider, vendor_id, \
         created_at_ms, member, kind, parent) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(&req.wallet)
    .bind(req.amount.0)
    .bind(now.saturating_add(req.timeout_ms))
    .bind(&a.run_id)
    .bind(&a.node_id)
    .bind(&a.provider)
    .bind(&a.vendor_id)
    .bind(now)
    .bind(&req.member)
    .bind(kind)
    .bind(parent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts one leg of a hold.
pub(crate) async fn insert_leg(tx: &mut Tx, hold: &str, seq: i64, lot: &str, amount: i64) -> Result<(), LedgerError> {
    sqlx::query("INSERT INTO hold_legs (hold_id, seq, lot, amount) VALUES ($1, $2, $3, $4)")
        .bind(hold)
        .bind(seq)
        .bind(lot)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A wallet's unexpired lots with free credit, in spending order: earliest expiry first
/// (never-expiring last), then promotional before paid. On PostgreSQL they are locked, in
/// that order, until the transaction ends: a concurrent hold on the wallet waits, then reads
/// what this one left.
pub(crate) async fn free_lots(tx: &mut Tx, wallet: &str, now_ms: i64) -> Result<Vec<(String, i64)>, LedgerError> {
    macro_rules! free_lots {
        ($lock:literal) => {
            concat!(
                "SELECT id, posted_credits - posted_debits - pending_debits FROM accounts \
                 WHERE owner = $1 AND kind = 'lot' AND frozen = 0 AND (expires_at_ms IS NULL OR expires_at_ms > $2) \
                 AND posted_credits - posted_debits - pending_debits > 0 \
                 ORDER BY (expires_at_ms IS NULL), expires_at_ms, priority, created_at_ms, id",
                $lock
            )
        };
    }
    const FREE_LOTS: &str = free_lots!("");
    const FREE_LOTS_LOCKED: &str = free_lots!(" FOR UPDATE");
    let sql = if on_postgres(tx) { FREE_LOTS_LOCKED } else { FREE_LOTS };
    Ok(sqlx::query_as(sql).bind(wallet).bind(now_ms).fetch_all(&mut **tx).await?)
}

/// Refuses a hold that is not for a positive amount (at most [`AMOUNT_MAX`]) and a positive
/// timeout (at most a year).
pub(crate) fn check_request(req: &HoldRequest) -> Result<(), LedgerError> {
    const TIMEOUT_MAX_MS: i64 = 366 * 24 * 3_600_000;
    if !(1..=AMOUNT_MAX).contains(&req.amount.0) || !(1..=TIMEOUT_MAX_MS).contains(&req.timeout_ms) {
        return Err(LedgerError::InvalidAmount(format!(
            "a hold needs an amount from 1 to {AMOUNT_MAX} cr and a timeout from 1 ms to a year, not {} for {} ms",
            req.amount, req.timeout_ms
        )));
    }
    if req.wallet.is_empty() || req.member.as_deref() == Some("") {
        return Err(LedgerError::InvalidAmount("a hold needs a wallet (and, if given, a member) name".into()));
    }
    Ok(())
}

/// Refuses a charge that is negative, above [`AMOUNT_MAX`], or costs more than it charges.
fn check_charge(charge: Credits, cost: Credits) -> Result<(), LedgerError> {
    if charge.0 < 0 || cost.0 < 0 || cost > charge || charge.0 > AMOUNT_MAX {
        return Err(LedgerError::InvalidAmount(format!("charge {charge} with provider cost {cost}")));
    }
    Ok(())
}

/// Refuses an empty or oversized idempotency key.
pub(crate) fn check_key(key: &str) -> Result<(), LedgerError> {
    const KEY_MAX_BYTES: usize = 512;
    if key.trim().is_empty() || key.len() > KEY_MAX_BYTES {
        return Err(LedgerError::InvalidAmount(format!(
            "an idempotency key must be 1 to {KEY_MAX_BYTES} bytes and not blank"
        )));
    }
    Ok(())
}

/// Refuses a wallet that does not exist.
pub(crate) async fn wallet_exists(db: impl sqlx::AnyExecutor<'_>, wallet: &str) -> Result<(), LedgerError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1 AND kind = 'wallet'")
        .bind(wallet)
        .fetch_optional(db)
        .await?;
    found.map(|_| ()).ok_or_else(|| LedgerError::UnknownWallet(wallet.to_string()))
}

/// Takes `amount` from `lots` (free credit, in spending order), returning the legs, or `None`
/// (and takes nothing) when they hold too little.
pub(crate) fn allocate(lots: &mut [(String, i64)], amount: i64) -> Option<Vec<(String, i64)>> {
    if lots.iter().map(|(_, free)| free).sum::<i64>() < amount {
        return None;
    }
    let mut legs = Vec::new();
    let mut left = amount;
    for (lot, free) in lots.iter_mut().filter(|(_, free)| *free > 0) {
        let take = left.min(*free);
        *free -= take;
        left -= take;
        legs.push((lot.clone(), take));
        if left == 0 {
            break;
        }
    }
    Some(legs)
}

/// Adds to a lot's reserved credit, only if it has that much free.
pub(crate) async fn reserve(tx: &mut Tx, lot: &str, amount: i64) -> Result<(), LedgerError> {
    let done = sqlx::query(
        "UPDATE accounts SET pending_debits = pending_debits + $1 \
         WHERE id = $2 AND posted_credits - posted_debits - pending_debits >= $3",
    )
    .bind(amount)
    .bind(lot)
    .bind(amount)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(LedgerError::InvalidAmount(format!("lot {lot} no longer has {amount} free")));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StoredHold {
    amount: i64,
    wallet: String,
    member: Option<String>,
    state: String,
    run_id: Option<String>,
    node_id: Option<String>,
    provider: Option<String>,
    vendor_id: Option<String>,
    parent: Option<String>,
}

/// A hold that can still be settled (pending or unknown). On PostgreSQL the hold, then its
/// run reservation, are locked until the transaction ends, so two settlements of one hold
/// (or of two holds carved from one reservation) never interleave.
pub(crate) async fn open_hold(tx: &mut Tx, hold: &HoldId) -> Result<HoldRow, LedgerError> {
    let lock = if on_postgres(tx) { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT amount, wallet, member, state, run_id, node_id, provider, vendor_id, parent FROM holds WHERE id = $1{lock}"
    );
    let row: Option<StoredHold> = sqlx::query_as(AssertSqlSafe(sql)).bind(&hold.0).fetch_optional(&mut **tx).await?;
    let Some(h) = row else {
        return Err(LedgerError::UnknownHold(hold.0.clone()));
    };
    if h.state != "pending" && h.state != "unknown" {
        return Err(LedgerError::Settled { id: hold.0.clone(), state: h.state });
    }
    let parent = match h.parent {
        Some(parent) => {
            let sql = format!("SELECT state FROM holds WHERE id = $1{lock}");
            let state: Option<String> =
                sqlx::query_scalar(AssertSqlSafe(sql)).bind(&parent).fetch_optional(&mut **tx).await?;
            Some(parent).filter(|_| state.as_deref() == Some("pending"))
        }
        None => None,
    };
    let audit = Audit { run_id: h.run_id, node_id: h.node_id, provider: h.provider, vendor_id: h.vendor_id };
    Ok(HoldRow { amount: h.amount, audit, wallet: h.wallet, member: h.member, parent })
}

/// A hold's legs in order: lot and amount reserved.
pub(crate) async fn legs(tx: &mut Tx, hold: &HoldId) -> Result<Vec<(String, i64)>, LedgerError> {
    Ok(sqlx::query_as("SELECT lot, amount FROM hold_legs WHERE hold_id = $1 ORDER BY seq")
        .bind(&hold.0)
        .fetch_all(&mut **tx)
        .await?)
}
