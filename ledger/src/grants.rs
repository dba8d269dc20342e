//! Wallets and their lots: granting credit, expiring it into breakage, and balances.

use serde::{Deserialize, Serialize};

use crate::keys::{fingerprint, keyed};
use crate::types::{Audit, Balance, Credits, Grant};
use crate::{AMOUNT_MAX, Ledger, LedgerError, Tx, system};

/// A granted lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantReceipt {
    /// The lot's account.
    pub lot: String,
    /// How much it holds.
    pub amount: Credits,
    /// Whether this is the first grant's receipt, replayed for a repeated key (a second
    /// monthly grant, a payment delivered twice). Never stored: a receipt read back from the
    /// idempotency table is a replay, so its default is `true`.
    #[serde(default = "replayed", skip_serializing)]
    pub replayed: bool,
}

fn replayed() -> bool {
    true
}

/// A transfer's bookkeeping besides its two accounts and amount.
pub(crate) struct Entry<'a> {
    pub reason: &'a str,
    pub hold_id: Option<&'a str>,
    pub audit: &'a Audit,
    pub key: Option<&'a str>,
    pub now_ms: i64,
}

/// Creates an account if it does not exist.
pub(crate) async fn ensure_account(
    tx: &mut Tx,
    id: &str,
    kind: &str,
    allow_negative: bool,
    now_ms: i64,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO accounts (id, kind, allow_negative, created_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(i64::from(allow_negative))
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The lot that credit rolled over from lots expiring at `expired_at_ms` goes to: one per
/// owner and month, expiring at the end of the month that starts then, and itself able to
/// roll over up to the same cap.
async fn rollover_lot(
    tx: &mut Tx,
    owner: &str,
    expired_at_ms: i64,
    cap: i64,
    now_ms: i64,
) -> Result<String, LedgerError> {
    let (expires, month) = crate::plans::month_end(expired_at_ms);
    let lot = format!("lot:{owner}:rollover:{month}");
    sqlx::query(
        "INSERT INTO accounts (id, kind, owner, source, priority, expires_at_ms, rollover_cap, created_at_ms) \
         VALUES ($1, 'lot', $2, 'plan', $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&lot)
    .bind(owner)
    .bind(crate::types::Source::Plan.priority())
    .bind(expires)
    .bind(cap)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(lot)
}

/// Moves `amount` from `debit` to `credit` and records it. The accounts' balance checks
/// refuse a move that would take an ordinary account below zero.
pub(crate) async fn transfer(
    tx: &mut Tx,
    debit: &str,
    credit: &str,
    amount: i64,
    e: &Entry<'_>,
) -> Result<(), LedgerError> {
    sqlx::query("UPDATE accounts SET posted_debits = posted_debits + $1 WHERE id = $2")
        .bind(amount)
        .bind(debit)
        .execute(&mut **tx)
        .await?;
    credit_account(tx, credit, amount).await?;
    record(tx, debit, credit, amount, e).await
}

pub(crate) async fn credit_account(tx: &mut Tx, id: &str, amount: i64) -> Result<(), LedgerError> {
    sqlx::query("UPDATE accounts SET posted_credits = posted_credits + $1 WHERE id = $2")
        .bind(amount)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes the immutable transfer row.
pub(crate) async fn record(
    tx: &mut Tx,
    debit: &str,
    credit: &str,
    amount: i64,
    e: &Entry<'_>,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO transfers (debit, credit, amount, reason, hold_id, run_id, node_id, provider, vendor_id, \
         idempotency_key, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(debit)
    .bind(credit)
    .bind(amount)
    .bind(e.reason)
    .bind(e.hold_id)
    .bind(&e.audit.run_id)
    .bind(&e.audit.node_id)
    .bind(&e.audit.provider)
    .bind(&e.audit.vendor_id)
    .bind(e.key)
    .bind(e.now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refuses a grant that is not for 1 to [`AMOUNT_MAX`] credits to a named wallet, with a
/// rollover cap in the same range.
pub(crate) fn check_grant(grant: &Grant) -> Result<(), LedgerError> {
    if !(1..=AMOUNT_MAX).contains(&grant.amount.0) {
        return Err(LedgerError::InvalidAmount(format!(
            "a grant must be from 1 to {AMOUNT_MAX} cr, not {}",
            grant.amount
        )));
    }
    if !(0..=AMOUNT_MAX).contains(&grant.rollover_cap) {
        return Err(LedgerError::InvalidAmount(format!("a rollover cap must be from 0 to {AMOUNT_MAX} cr")));
    }
    if grant.wallet.trim().is_empty() {
        return Err(LedgerError::InvalidAmount("a grant needs a wallet name".into()));
    }
    Ok(())
}

impl Ledger {
    /// Adds a lot of credit to a wallet (creating the wallet), from its source.
    pub async fn grant(&self, grant: &Grant, key: &str) -> Result<GrantReceipt, LedgerError> {
        // Checked before the key is taken: a refused grant leaves its key free for the
        // corrected one.
        check_grant(grant)?;
        crate::holds::check_key(key)?;
        let hash = fingerprint(&("grant", grant));
        keyed!(self, key, &hash, |tx| self.grant_in(tx, grant, key).await)
    }

    /// [`Ledger::grant`] inside the caller's transaction: the grant made once under `key`
    /// (a payment's webhook and an operator's command name the same key, so only the first
    /// grants). Returns the receipt and whether it was granted before.
    pub(crate) async fn grant_once_in(
        &self,
        tx: &mut Tx,
        grant: &Grant,
        key: &str,
    ) -> Result<(GrantReceipt, bool), LedgerError> {
        check_grant(grant)?;
        crate::holds::check_key(key)?;
        let hash = fingerprint(&("grant", grant));
        let now = self.now();
        let claimed = crate::on_postgres(tx) && crate::keys::claim(tx, key, &hash, now).await?;
        if !claimed && let Some(done) = crate::keys::recall(tx, key, &hash).await? {
            return Ok((done, true));
        }
        let receipt = self.grant_in(tx, grant, key).await?;
        let result = serde_json::to_string(&receipt).unwrap_or_default();
        crate::keys::remember(tx, key, &hash, true, &result, now).await?;
        Ok((receipt, false))
    }

    async fn grant_in(&self, tx: &mut Tx, grant: &Grant, key: &str) -> Result<GrantReceipt, LedgerError> {
        let now = self.now();
        ensure_account(tx, &grant.wallet, "wallet", false, now).await?;
        let source = system::source(grant.source);
        ensure_account(tx, &source, "source", true, now).await?;
        let lot = format!("lot:{}:{key}", grant.wallet);
        sqlx::query(
            "INSERT INTO accounts (id, kind, owner, source, priority, expires_at_ms, rollover_cap, created_at_ms) \
             VALUES ($1, 'lot', $2, $3, $4, $5, $6, $7)",
        )
        .bind(&lot)
        .bind(&grant.wallet)
        .bind(grant.source.name())
        .bind(grant.source.priority())
        .bind(grant.expires_at_ms)
        .bind(grant.rollover_cap.max(0))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let audit = Audit::default();
        let entry = Entry { reason: &grant.reason, hold_id: None, audit: &audit, key: Some(key), now_ms: now };
        transfer(tx, &source, &lot, grant.amount.0, &entry).await?;
        Ok(GrantReceipt { lot, amount: grant.amount, replayed: false })
    }

    /// Moves what is left in expired lots (less what pending holds still reserve) to
    /// breakage, except that a plan that rolls over carries up to its cap (summed over the
    /// owner's lots that expired at the same time) into a new lot expiring a month later.
    /// Returns how much went to breakage.
    pub async fn expire_grants(&self) -> Result<Credits, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        ensure_account(&mut tx, system::BREAKAGE, "breakage", false, now).await?;
        // Locked on PostgreSQL, so a hold cannot reserve what is about to expire.
        let lock = if crate::on_postgres(&tx) { " FOR UPDATE" } else { "" };
        let sql = format!(
            "SELECT id, owner, expires_at_ms, rollover_cap, posted_credits - posted_debits - pending_debits \
             FROM accounts WHERE kind = 'lot' AND expires_at_ms <= $1 \
             AND posted_credits - posted_debits - pending_debits > 0 ORDER BY owner, expires_at_ms, id{lock}"
        );
        let lots: Vec<(String, Option<String>, i64, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).fetch_all(&mut *tx).await?;
        let audit = Audit::default();
        let expired = Entry { reason: "grant_expired", hold_id: None, audit: &audit, key: None, now_ms: now };
        let rolled = Entry { reason: "rollover", ..expired };
        let mut carried: std::collections::BTreeMap<(String, i64), i64> = Default::default();
        let mut total = 0;
        for (lot, owner, expires_at_ms, cap, free) in lots {
            let room = owner.as_ref().filter(|_| cap > 0).map(|o| {
                let used = carried.entry((o.clone(), expires_at_ms)).or_insert(0);
                let take = free.min(cap - *used).max(0);
                *used += take;
                (o.clone(), take)
            });
            let carry = match room {
                Some((owner, take)) if take > 0 => {
                    let next = rollover_lot(&mut tx, &owner, expires_at_ms, cap, now).await?;
                    transfer(&mut tx, &lot, &next, take, &rolled).await?;
                    take
                }
                _ => 0,
            };
            if free > carry {
                transfer(&mut tx, &lot, system::BREAKAGE, free - carry, &expired).await?;
                total += free - carry;
            }
        }
        tx.commit().await?;
        Ok(Credits(total))
    }

    /// A wallet's credits in unexpired lots.
    pub async fn balance(&self, wallet: &str) -> Result<Balance, LedgerError> {
        crate::holds::wallet_exists(&self.pool, wallet).await?;
        let (posted, held, frozen): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT CAST(SUM(posted_credits - posted_debits) AS BIGINT), CAST(SUM(pending_debits) AS BIGINT), \
             CAST(SUM(CASE WHEN frozen = 1 THEN posted_credits - posted_debits - pending_debits ELSE 0 END) AS BIGINT) \
             FROM accounts WHERE owner = $1 AND kind = 'lot' AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
        )
        .bind(wallet)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        let (posted, held, frozen) = (posted.unwrap_or(0), held.unwrap_or(0), frozen.unwrap_or(0));
        Ok(Balance {
            posted: Credits(posted),
            held: Credits(held),
            available: Credits(posted - held - frozen),
            frozen: Credits(frozen),
        })
    }
}
