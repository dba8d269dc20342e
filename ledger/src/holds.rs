//! Two-phase spending: hold (reserve the most a call may cost), then post (charge the metered
//! amount, at most the hold) or void (release it). A hold whose call may have been accepted
//! is marked *unknown* and is never voided by expiry: it waits for reconciliation.

use serde::{Deserialize, Serialize};

use crate::grants::{Entry, credit_account, ensure_account, record};
use crate::keys::{Begun, fingerprint};
use crate::types::{Audit, Credits, HoldRequest};
use crate::{Ledger, LedgerError, Tx, system};

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
    /// What went back to the wallet.
    pub released: Credits,
}

/// What start-up recovery found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Holds past their timeout, voided.
    pub voided: usize,
    /// Holds left open as unknown outcomes, for reconciliation.
    pub unknown: usize,
}

struct HoldRow {
    amount: i64,
    audit: Audit,
    wallet: String,
    member: Option<String>,
}

impl HoldRow {
    /// Gives back the member's reservation, if the hold had a member.
    async fn settle_member(&self, tx: &mut Tx, charged: i64) -> Result<(), LedgerError> {
        match &self.member {
            Some(m) => crate::members::settle(tx, &self.wallet, m, self.amount, charged).await,
            None => Ok(()),
        }
    }
}

impl Ledger {
    /// Reserves `req.amount` from the wallet's lots (earliest expiry first, promotional before
    /// paid), or refuses with what is available. Check and reservation are one atomic step.
    pub async fn hold(&self, req: &HoldRequest, key: &str) -> Result<HoldId, LedgerError> {
        let hash = fingerprint(&("hold", req));
        let mut tx = match self.begin_keyed(key, &hash).await? {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
        let outcome = self.hold_in(&mut tx, req, key).await;
        self.settle(tx, key, &hash, outcome).await
    }

    async fn hold_in(&self, tx: &mut Tx, req: &HoldRequest, key: &str) -> Result<HoldId, LedgerError> {
        check_request(req)?;
        let now = self.now();
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
        let id = format!("hold:{key}");
        let a = &req.audit;
        sqlx::query(
            "INSERT INTO holds (id, wallet, amount, state, timeout_at_ms, run_id, node_id, provider, vendor_id, created_at_ms, member) \
             VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&req.wallet)
        .bind(req.amount.0)
        .bind(now.saturating_add(req.timeout_ms))
        .bind(&a.run_id)
        .bind(&a.node_id)
        .bind(&a.provider)
        .bind(&a.vendor_id)
        .bind(now)
        .bind(&req.member)
        .execute(&mut **tx)
        .await?;
        for (seq, (lot, take)) in legs.iter().enumerate() {
            reserve(tx, lot, *take).await?;
            sqlx::query("INSERT INTO hold_legs (hold_id, seq, lot, amount) VALUES (?, ?, ?, ?)")
                .bind(&id)
                .bind(seq as i64)
                .bind(lot)
                .bind(take)
                .execute(&mut **tx)
                .await?;
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
        let hash = fingerprint(&("post", hold, charge, cost, vendor_id));
        let mut tx = match self.begin_keyed(key, &hash).await? {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
        let outcome = self.post_in(&mut tx, hold, charge, cost, vendor_id, key).await;
        self.settle(tx, key, &hash, outcome).await
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
        if charge.0 < 0 || cost.0 < 0 || cost > charge {
            return Err(LedgerError::InvalidAmount(format!("charge {charge} with provider cost {cost}")));
        }
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
        for (lot, held) in legs(tx, hold).await? {
            let take = left.min(held);
            sqlx::query("UPDATE accounts SET pending_debits = pending_debits - ?, posted_debits = posted_debits + ? WHERE id = ?")
                .bind(held)
                .bind(take)
                .bind(&lot)
                .execute(&mut **tx)
                .await?;
            let to_provider = take.min(cost_left);
            for (account, amount) in [(payable.as_str(), to_provider), (system::MARGIN, take - to_provider)] {
                if amount > 0 {
                    credit_account(tx, account, amount).await?;
                    record(tx, &lot, account, amount, &entry).await?;
                }
            }
            (left, cost_left) = (left - take, cost_left - to_provider);
        }
        row.settle_member(tx, charge.0).await?;
        sqlx::query("UPDATE holds SET state = 'posted', posted = ?, vendor_id = ?, settled_at_ms = ? WHERE id = ?")
            .bind(charge.0)
            .bind(&audit.vendor_id)
            .bind(now)
            .bind(&hold.0)
            .execute(&mut **tx)
            .await?;
        Ok(Posted { hold: hold.clone(), charged: charge, released: Credits(row.amount - charge.0) })
    }

    /// Releases a hold in full (the call failed, was cancelled or was skipped).
    pub async fn void(&self, hold: &HoldId, key: &str) -> Result<Posted, LedgerError> {
        let hash = fingerprint(&("void", hold));
        let mut tx = match self.begin_keyed(key, &hash).await? {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
        let outcome = self.release(&mut tx, hold, "voided").await;
        self.settle(tx, key, &hash, outcome).await
    }

    async fn release(&self, tx: &mut Tx, hold: &HoldId, state: &str) -> Result<Posted, LedgerError> {
        let row = open_hold(tx, hold).await?;
        for (lot, held) in legs(tx, hold).await? {
            sqlx::query("UPDATE accounts SET pending_debits = pending_debits - ? WHERE id = ?")
                .bind(held)
                .bind(&lot)
                .execute(&mut **tx)
                .await?;
        }
        row.settle_member(tx, 0).await?;
        sqlx::query("UPDATE holds SET state = ?, settled_at_ms = ? WHERE id = ?")
            .bind(state)
            .bind(self.now())
            .bind(&hold.0)
            .execute(&mut **tx)
            .await?;
        Ok(Posted { hold: hold.clone(), charged: Credits(0), released: Credits(row.amount) })
    }

    /// Marks a pending hold whose call may have been accepted: it stays reserved, is never
    /// voided by expiry, and waits for reconciliation to post or void it.
    pub async fn mark_unknown(&self, hold: &HoldId) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        open_hold(&mut tx, hold).await?;
        sqlx::query("UPDATE holds SET state = 'unknown' WHERE id = ?").bind(&hold.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Start-up recovery: voids pending holds past their timeout (a crashed run's), and
    /// counts the unknown ones left for reconciliation.
    pub async fn recover(&self) -> Result<Recovery, LedgerError> {
        let mut tx = self.begin().await?;
        let expired: Vec<String> =
            sqlx::query_scalar("SELECT id FROM holds WHERE state = 'pending' AND timeout_at_ms <= ?")
                .bind(self.now())
                .fetch_all(&mut *tx)
                .await?;
        for id in &expired {
            self.release(&mut tx, &HoldId(id.clone()), "expired").await?;
        }
        let unknown: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM holds WHERE state = 'unknown'").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        if !expired.is_empty() || unknown > 0 {
            tracing::warn!(voided = expired.len(), unknown, "ledger recovery");
        }
        Ok(Recovery { voided: expired.len(), unknown: usize::try_from(unknown).unwrap_or(0) })
    }
}

/// A wallet's unexpired lots with free credit, in spending order: earliest expiry first
/// (never-expiring last), then promotional before paid.
pub(crate) async fn free_lots(tx: &mut Tx, wallet: &str, now_ms: i64) -> Result<Vec<(String, i64)>, LedgerError> {
    Ok(sqlx::query_as(
        "SELECT id, posted_credits - posted_debits - pending_debits FROM accounts \
         WHERE owner = ? AND kind = 'lot' AND (expires_at_ms IS NULL OR expires_at_ms > ?) \
         AND posted_credits - posted_debits - pending_debits > 0 \
         ORDER BY (expires_at_ms IS NULL), expires_at_ms, priority, created_at_ms, id",
    )
    .bind(wallet)
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await?)
}

/// Refuses a hold that is not for a positive amount and timeout.
pub(crate) fn check_request(req: &HoldRequest) -> Result<(), LedgerError> {
    if req.amount.0 <= 0 || req.timeout_ms <= 0 {
        return Err(LedgerError::InvalidAmount(format!(
            "a hold needs a positive amount and timeout, not {} for {} ms",
            req.amount, req.timeout_ms
        )));
    }
    Ok(())
}

/// Refuses a wallet that does not exist.
pub(crate) async fn wallet_exists(db: impl sqlx::SqliteExecutor<'_>, wallet: &str) -> Result<(), LedgerError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = ? AND kind = 'wallet'")
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
        "UPDATE accounts SET pending_debits = pending_debits + ? \
         WHERE id = ? AND posted_credits - posted_debits - pending_debits >= ?",
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
}

/// A hold that can still be settled (pending or unknown).
async fn open_hold(tx: &mut Tx, hold: &HoldId) -> Result<HoldRow, LedgerError> {
    let row: Option<StoredHold> = sqlx::query_as(
        "SELECT amount, wallet, member, state, run_id, node_id, provider, vendor_id FROM holds WHERE id = ?",
    )
    .bind(&hold.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(h) = row else {
        return Err(LedgerError::UnknownHold(hold.0.clone()));
    };
    if h.state != "pending" && h.state != "unknown" {
        return Err(LedgerError::Settled { id: hold.0.clone(), state: h.state });
    }
    let audit = Audit { run_id: h.run_id, node_id: h.node_id, provider: h.provider, vendor_id: h.vendor_id };
    Ok(HoldRow { amount: h.amount, audit, wallet: h.wallet, member: h.member })
}

/// A hold's legs in order: lot and amount reserved.
async fn legs(tx: &mut Tx, hold: &HoldId) -> Result<Vec<(String, i64)>, LedgerError> {
    Ok(sqlx::query_as("SELECT lot, amount FROM hold_legs WHERE hold_id = ? ORDER BY seq")
        .bind(&hold.0)
        .fetch_all(&mut **tx)
        .await?)
}
