//! Plan grants and pack top-ups over the plain grant, and the listing of holds.

use serde::Serialize;

use crate::grants::GrantReceipt;
use crate::plans::{Pack, Plan, month_end};
use crate::types::{Credits, Grant, Source};
use crate::{AMOUNT_MAX, Ledger, LedgerError};

/// The most seats a per-seat plan grants for.
pub const SEATS_MAX: i64 = 1_000_000;

/// One hold, as `credits holds` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HoldRecord {
    /// The hold.
    pub id: String,
    /// Its wallet.
    pub wallet: String,
    /// What it reserved.
    pub amount: i64,
    /// `pending`, `unknown`, `posted`, `voided` or `expired`.
    pub state: String,
    /// When it expires (unix ms) unless settled or unknown.
    pub timeout_at_ms: i64,
    /// What was charged.
    pub posted: i64,
    /// The run.
    pub run_id: Option<String>,
    /// The node.
    pub node_id: Option<String>,
    /// The provider.
    pub provider: Option<String>,
    /// The provider's id.
    pub vendor_id: Option<String>,
    /// When the paid call's intent was written (unix ms): from then on it may have gone out.
    pub sent_at_ms: Option<i64>,
    /// Why the charge needs a person's look, if it does.
    pub review: Option<String>,
    /// The evidence an operator settled it on, if settled by hand.
    pub evidence: Option<String>,
    /// `call` (a node's paid call) or `run` (a run's reservation).
    pub kind: String,
}

/// A plan's grant for the calendar month holding `at_ms` (expiring at its end) and its
/// idempotency key: the plan, wallet and month, so the same month is granted once.
/// A custom plan (monthly_credits 0, such as Enterprise) takes its amount in `custom`.
pub(crate) fn plan_grant(
    wallet: &str,
    name: &str,
    plan: &Plan,
    seats: i64,
    custom: Option<i64>,
    at_ms: i64,
) -> Result<(Grant, String), LedgerError> {
    if plan.per_seat && !(1..=SEATS_MAX).contains(&seats) {
        return Err(LedgerError::InvalidAmount(format!("seats must be from 1 to {SEATS_MAX}, not {seats}")));
    }
    let seats = if plan.per_seat { seats } else { 1 };
    let (expires, month) = month_end(at_ms);
    let monthly = match (plan.monthly_credits, custom) {
        (0, Some(n)) if (1..=AMOUNT_MAX).contains(&n) => n,
        (0, Some(n)) => {
            return Err(LedgerError::InvalidAmount(format!(
                "plan {name} is custom: its monthly credits must be from 1 to {AMOUNT_MAX}, not {n}"
            )));
        }
        (0, None) => {
            return Err(LedgerError::InvalidAmount(format!(
                "plan {name} is custom: give its monthly credits (--credits N)"
            )));
        }
        (n, None) => n,
        (_, Some(_)) => {
            return Err(LedgerError::InvalidAmount(format!("plan {name} grants a fixed amount; drop --credits")));
        }
    };
    let amount = monthly.checked_mul(seats).filter(|a| *a <= AMOUNT_MAX).ok_or_else(|| {
        LedgerError::InvalidAmount(format!("{monthly} cr for {seats} seats is over the {AMOUNT_MAX} cr a grant may be"))
    })?;
    let amount = Credits(amount);
    let grant = Grant {
        wallet: wallet.to_string(),
        amount,
        source: Source::Plan,
        expires_at_ms: Some(expires),
        reason: format!("plan:{name}:{month}"),
        rollover_cap: plan.rollover_cap,
    };
    let key = format!("plan:{name}:{wallet}:{month}");
    Ok((grant, key))
}

/// A bought pack's grant (it never expires) and its key: the payment's id, so each payment
/// tops up once.
pub(crate) fn pack_grant(
    wallet: &str,
    name: &str,
    pack: &Pack,
    payment_id: &str,
) -> Result<(Grant, String), LedgerError> {
    if payment_id.trim().is_empty() {
        return Err(LedgerError::InvalidAmount(
            "a top-up needs the payment's id (--payment-id), which makes it happen once".into(),
        ));
    }
    let key = format!("topup:{payment_id}");
    let grant = Grant {
        wallet: wallet.to_string(),
        amount: Credits(pack.credits),
        source: Source::Pack,
        expires_at_ms: None,
        reason: format!("pack:{name}"),
        rollover_cap: 0,
    };
    Ok((grant, key))
}

impl Ledger {
    /// Grants a plan's credits for the current calendar month, expiring at its end, and
    /// records the plan and tier on the wallet. The key is the plan, wallet and month, so
    /// granting the same month twice is a replay, never a second grant.
    /// A custom plan (monthly_credits 0, such as Enterprise) takes its amount in `custom`.
    pub async fn grant_plan(
        &self,
        wallet: &str,
        name: &str,
        plan: &Plan,
        seats: i64,
        custom: Option<i64>,
    ) -> Result<GrantReceipt, LedgerError> {
        let (grant, key) = plan_grant(wallet, name, plan, seats, custom, self.now())?;
        let receipt = self.grant(&grant, &key).await?;
        sqlx::query("UPDATE accounts SET plan = $1, tier = $2 WHERE id = $3")
            .bind(name)
            .bind(plan.tier)
            .bind(wallet)
            .execute(&self.pool)
            .await?;
        Ok(receipt)
    }

    /// Adds a bought pack (never expires), once per payment: the payment's id is the key.
    pub async fn topup(
        &self,
        wallet: &str,
        name: &str,
        pack: &Pack,
        payment_id: &str,
    ) -> Result<GrantReceipt, LedgerError> {
        let (grant, key) = pack_grant(wallet, name, pack, payment_id)?;
        self.grant(&grant, &key).await
    }

    /// Holds, newest first; with `open_only`, those still pending or unknown.
    pub async fn holds(&self, wallet: Option<&str>, open_only: bool) -> Result<Vec<HoldRecord>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT id, wallet, amount, state, timeout_at_ms, posted, run_id, node_id, provider, vendor_id, sent_at_ms, \
             review, evidence, kind FROM holds \
             WHERE ($1 IS NULL OR wallet = $2) AND ($3 = 0 OR state IN ('pending', 'unknown')) \
             ORDER BY created_at_ms DESC, id DESC",
        )
        .bind(wallet)
        .bind(wallet)
        .bind(i64::from(open_only))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The wallets whose names start with `prefix` (a server's tenant, `acme/`), by name.
    pub async fn wallets(&self, prefix: &str) -> Result<Vec<String>, LedgerError> {
        // substr, not LIKE: names may hold `_`, which LIKE reads as a wildcard.
        Ok(sqlx::query_scalar(
            "SELECT id FROM accounts WHERE kind = 'wallet' AND substr(id, 1, CAST($1 AS INTEGER)) = $2 ORDER BY id",
        )
        .bind(prefix.len() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Holds by state, for an operator's metrics: `(state, holds, credits held, credits
    /// posted)`.
    pub async fn hold_totals(&self) -> Result<Vec<(String, i64, i64, i64)>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT state, COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT), \
             CAST(COALESCE(SUM(posted), 0) AS BIGINT) FROM holds GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A wallet's plan and tier, if it has one.
    pub async fn plan_of(&self, wallet: &str) -> Result<Option<(String, i64)>, LedgerError> {
        let row: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT plan, tier FROM accounts WHERE id = $1")
                .bind(wallet)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(p, t)| Some((p?, t.unwrap_or(0)))))
    }
}
