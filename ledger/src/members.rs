//! Team pools: members spend from one shared wallet, each within a monthly cap. A member's
//! hold takes from the cap in the same transaction (and the same statement) that checks it,
//! so concurrent runs can no more overspend a member's cap than the pool.

use serde::Serialize;

use crate::plans::month_end;
use crate::types::Credits;
use crate::{Ledger, LedgerError, Tx};

/// A member's cap and use this month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MemberUse {
    /// The pool wallet.
    pub pool: String,
    /// The member.
    pub member: String,
    /// Credits a month.
    pub cap: i64,
    /// The month `spent` counts (`2026-11`).
    pub period: String,
    /// Charged this month.
    pub spent: i64,
    /// Reserved by open holds.
    pub held: i64,
}

impl MemberUse {
    /// What is left of the cap at `now_ms` (a new month has spent nothing yet).
    pub fn left_at(&self, now_ms: i64) -> i64 {
        let spent = if self.period == period(now_ms) { self.spent } else { 0 };
        self.cap - spent - self.held
    }
}

/// The calendar month (UTC) holding `now_ms`.
pub(crate) fn period(now_ms: i64) -> String {
    month_end(now_ms).1
}

impl Ledger {
    /// Sets a member's monthly cap in a pool wallet (adding the member).
    pub async fn set_member_cap(&self, pool: &str, member: &str, cap: Credits) -> Result<MemberUse, LedgerError> {
        if !(0..=crate::AMOUNT_MAX).contains(&cap.0) || member.trim().is_empty() {
            return Err(LedgerError::InvalidAmount(format!(
                "a member needs a name and a cap from 0 to {} cr, not {cap}",
                crate::AMOUNT_MAX
            )));
        }
        let mut tx = self.begin().await?;
        crate::holds::wallet_exists(&mut *tx, pool).await?;
        sqlx::query(
            "INSERT INTO members (pool, member, cap, period) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (pool, member) DO UPDATE SET cap = excluded.cap",
        )
        .bind(pool)
        .bind(member)
        .bind(cap.0)
        .bind(period(self.now()))
        .execute(&mut *tx)
        .await?;
        let used = member_use(&mut tx, pool, member).await?;
        tx.commit().await?;
        Ok(used)
    }

    /// What is left of a member's cap this month, by the ledger's clock.
    pub async fn member_left(&self, pool: &str, member: &str) -> Result<i64, LedgerError> {
        Ok(self.member(pool, member).await?.left_at(self.now()))
    }

    /// Whether `pool` is a team account: one with members, spent only by a named member.
    pub async fn has_members(&self, pool: &str) -> Result<bool, LedgerError> {
        let mut tx = self.begin().await?;
        let found = has_members(&mut tx, pool).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// Every member of a pool, by name.
    pub async fn members(&self, pool: &str) -> Result<Vec<MemberUse>, LedgerError> {
        Ok(sqlx::query_as("SELECT pool, member, cap, period, spent, held FROM members WHERE pool = $1 ORDER BY member")
            .bind(pool)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A member's cap and use.
    pub async fn member(&self, pool: &str, member: &str) -> Result<MemberUse, LedgerError> {
        let mut tx = self.begin().await?;
        let used = member_use(&mut tx, pool, member).await?;
        tx.commit().await?;
        Ok(used)
    }
}

async fn member_use(tx: &mut Tx, pool: &str, member: &str) -> Result<MemberUse, LedgerError> {
    let row: Option<MemberUse> =
        sqlx::query_as("SELECT pool, member, cap, period, spent, held FROM members WHERE pool = $1 AND member = $2")
            .bind(pool)
            .bind(member)
            .fetch_optional(&mut **tx)
            .await?;
    row.ok_or_else(|| LedgerError::UnknownMember { pool: pool.into(), member: member.into() })
}

/// Whether `pool` has members (and so is spent only by a named one).
pub(crate) async fn has_members(tx: &mut Tx, pool: &str) -> Result<bool, LedgerError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM members WHERE pool = $1 LIMIT 1")
        .bind(pool)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

/// The team-pool policy: a wallet with members is spent only by a named member, so no spend
/// escapes the caps. (Counting anonymous spend against an "unassigned" member would let
/// anyone with the wallet's name spend up to that member's cap unattributed.)
pub(crate) async fn require_member(tx: &mut Tx, pool: &str, member: Option<&str>) -> Result<(), LedgerError> {
    if member.is_some() || !has_members(tx, pool).await? {
        return Ok(());
    }
    let members: Vec<String> =
        sqlx::query_scalar("SELECT member FROM members WHERE pool = $1 ORDER BY member LIMIT 11")
            .bind(pool)
            .fetch_all(&mut **tx)
            .await?;
    if members.is_empty() {
        return Ok(());
    }
    let mut list = members.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if members.len() > 10 {
        list.push_str(", …");
    }
    Err(LedgerError::MemberRequired { pool: pool.into(), members: list })
}

/// Reserves `amount` of the member's cap for this month, or refuses with what is left. A new
/// month starts the member's spending from zero.
pub(crate) async fn take(tx: &mut Tx, pool: &str, member: &str, amount: i64, now_ms: i64) -> Result<(), LedgerError> {
    let month = period(now_ms);
    let done = sqlx::query(
        "UPDATE members SET spent = CASE WHEN period = $1 THEN spent ELSE 0 END, period = $2, held = held + $3 \
         WHERE pool = $4 AND member = $5 AND (CASE WHEN period = $6 THEN spent ELSE 0 END) + held + $7 <= cap",
    )
    .bind(&month)
    .bind(&month)
    .bind(amount)
    .bind(pool)
    .bind(member)
    .bind(&month)
    .bind(amount)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let used = member_use(tx, pool, member).await?;
    let spent = if used.period == month { used.spent } else { 0 };
    Err(LedgerError::MemberCapReached {
        pool: pool.into(),
        member: member.into(),
        cap: Credits(used.cap),
        used: Credits(spent + used.held),
        needed: Credits(amount),
    })
}

/// Gives back a settled hold's reservation and counts what was charged.
pub(crate) async fn settle(tx: &mut Tx, pool: &str, member: &str, held: i64, charged: i64) -> Result<(), LedgerError> {
    sqlx::query("UPDATE members SET held = held - $1, spent = spent + $2 WHERE pool = $3 AND member = $4")
        .bind(held)
        .bind(charged)
        .bind(pool)
        .bind(member)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
