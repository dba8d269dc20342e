//! The facts fraud and velocity rules weigh at admission: the account's age, what it spent
//! today against its own baseline, its open holds, its recent top-ups, and the prompts its
//! recent runs sent. The rules themselves are the `ops` crate's.

use serde::Serialize;

use crate::{Ledger, LedgerError};

const DAY_MS: i64 = 86_400_000;

/// What the rules weigh about a wallet now.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpendFacts {
    /// How long ago the wallet was made (ms); `None` for a wallet not yet made.
    pub age_ms: Option<i64>,
    /// Credits charged since 00:00 UTC.
    pub spent_today: i64,
    /// Credits charged per day, on average, over the baseline days before today.
    pub daily_baseline: f64,
    /// Holds open now (runs' reservations and calls).
    pub open_holds: i64,
}

/// One admitted prompt: its exact hash and its SimHash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PromptMark {
    /// The blake3 of the normalized prompt.
    pub prompt_hash: String,
    /// Its 64-bit SimHash (as a signed integer, as the stores keep it).
    pub simhash: i64,
}

impl Ledger {
    /// The facts about `wallet` now, with a baseline over `baseline_days` before today.
    pub async fn spend_facts(&self, wallet: &str, baseline_days: i64) -> Result<SpendFacts, LedgerError> {
        let now = self.now();
        let today = now.div_euclid(DAY_MS) * DAY_MS;
        let created: Option<i64> = sqlx::query_scalar("SELECT created_at_ms FROM accounts WHERE id = $1")
            .bind(wallet)
            .fetch_optional(&self.pool)
            .await?;
        let spent = |from: i64, to: i64| {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT CAST(SUM(t.amount) AS BIGINT) FROM transfers t JOIN accounts a ON a.id = t.debit \
                 WHERE a.owner = $1 AND a.kind = 'lot' AND t.reason = 'charge' AND t.created_at_ms >= $2 AND t.created_at_ms < $3",
            )
            .bind(wallet)
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
        };
        let spent_today = spent(today, i64::MAX).await?.unwrap_or(0);
        let days = baseline_days.clamp(1, 366);
        let before = spent(today - days * DAY_MS, today).await?.unwrap_or(0);
        let open_holds: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM holds WHERE wallet = $1 AND state = 'pending'")
            .bind(wallet)
            .fetch_one(&self.pool)
            .await?;
        Ok(SpendFacts {
            age_ms: created.map(|c| now - c),
            spent_today,
            daily_baseline: before as f64 / days as f64,
            open_holds,
        })
    }

    /// Top-ups paid since `since_ms` into `wallet`, and by `customer` into any wallet.
    pub async fn topups_since(
        &self,
        wallet: &str,
        customer: Option<&str>,
        since_ms: i64,
    ) -> Result<(i64, i64), LedgerError> {
        let by_wallet: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM payments p JOIN accounts a ON a.id = p.lot \
             WHERE p.wallet = $1 AND a.source = 'pack' AND p.created_at_ms >= $2",
        )
        .bind(wallet)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        let by_customer: i64 = match customer {
            None => 0,
            Some(c) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM payments p JOIN accounts a ON a.id = p.lot \
                     JOIN billing_accounts b ON b.wallet = p.wallet \
                     WHERE b.customer = $1 AND a.source = 'pack' AND p.created_at_ms >= $2",
                )
                .bind(c)
                .bind(since_ms)
                .fetch_one(&self.pool)
                .await?
            }
        };
        Ok((by_wallet, by_customer))
    }

    /// Top-ups paid since `since_ms` with payment `method` (into any wallet).
    pub async fn topups_by_method(&self, method: &str, since_ms: i64) -> Result<i64, LedgerError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM payment_methods m JOIN payments p ON p.payment = m.payment \
             JOIN accounts a ON a.id = p.lot WHERE m.method = $1 AND a.source = 'pack' AND p.created_at_ms >= $2",
        )
        .bind(method)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The method behind `payment`, if a charge named it.
    pub async fn method_of(&self, payment: &str) -> Result<Option<String>, LedgerError> {
        Ok(sqlx::query_scalar("SELECT method FROM payment_methods WHERE payment = $1")
            .bind(payment)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The prompts `wallet`'s runs sent since `since_ms`, newest first, at most `limit`.
    pub async fn recent_prompts(
        &self,
        wallet: &str,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<PromptMark>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT prompt_hash, simhash FROM admissions WHERE wallet = $1 AND at_ms >= $2 AND prompt_hash IS NOT NULL \
             ORDER BY at_ms DESC LIMIT $3",
        )
        .bind(wallet)
        .bind(since_ms)
        .bind(limit.clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records an admitted run: its most and its prompts.
    pub async fn record_admission(&self, wallet: &str, most: i64, prompts: &[PromptMark]) -> Result<(), LedgerError> {
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        if prompts.is_empty() {
            sqlx::query("INSERT INTO admissions (wallet, at_ms, most) VALUES ($1, $2, $3)")
                .bind(wallet)
                .bind(now)
                .bind(most)
                .execute(&mut *tx)
                .await?;
        }
        for p in prompts {
            sqlx::query(
                "INSERT INTO admissions (wallet, at_ms, most, prompt_hash, simhash) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(wallet)
            .bind(now)
            .bind(most)
            .bind(&p.prompt_hash)
            .bind(p.simhash)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
