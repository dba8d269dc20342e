//! Usage alerts' storage: endpoints, the thresholds crossed, and the delivery outbox. An
//! event is written to the outbox in the same transaction that marks its threshold
//! crossed, so it is sent once, however often the evaluation runs; deliveries are retried
//! from the outbox until they succeed or run out of attempts.

use serde::Serialize;

use crate::{Ledger, LedgerError};

/// A tenant's alert endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AlertEndpoint {
    /// The wallets it watches (a tenant's `acme/`).
    pub prefix: String,
    /// Where events are posted.
    pub url: String,
    /// The secret deliveries are signed with (never shown after it is made).
    #[serde(skip)]
    pub secret: String,
    /// The thresholds, in percent, comma-separated.
    pub thresholds: String,
}

/// One delivery in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Delivery {
    /// The event's id (also the delivery's idempotency key).
    pub id: String,
    /// The endpoint's prefix.
    pub prefix: String,
    /// The wallet.
    pub wallet: String,
    /// The event (`credit_balance_dropped`, …).
    pub event: String,
    /// The JSON body.
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (unix ms).
    pub next_at_ms: i64,
    /// The last attempt's failure.
    pub last_error: Option<String>,
    /// When it was written (unix ms).
    pub created_at_ms: i64,
}

const DELIVERY_COLUMNS: &str =
    "id, prefix, wallet, event, payload, state, attempts, next_at_ms, last_error, created_at_ms";

impl Ledger {
    /// Sets the endpoint for wallets under `prefix` (replacing one there was).
    pub async fn set_alert_endpoint(&self, endpoint: &AlertEndpoint) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO alert_endpoints (prefix, url, secret, thresholds, created_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (prefix) DO UPDATE SET url = excluded.url, secret = excluded.secret, thresholds = excluded.thresholds",
        )
        .bind(&endpoint.prefix)
        .bind(&endpoint.url)
        .bind(&endpoint.secret)
        .bind(&endpoint.thresholds)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every endpoint, or the one for `prefix`.
    pub async fn alert_endpoints(&self, prefix: Option<&str>) -> Result<Vec<AlertEndpoint>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT prefix, url, secret, thresholds FROM alert_endpoints WHERE $1 IS NULL OR prefix = $2 ORDER BY prefix",
        )
        .bind(prefix)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The thresholds of `subject` (`wallet`, `member:ana:2026-12`) crossed and marked.
    pub async fn alert_marks(&self, wallet: &str, subject: &str) -> Result<Vec<i64>, LedgerError> {
        Ok(sqlx::query_scalar(
            "SELECT threshold FROM alert_marks WHERE wallet = $1 AND subject = $2 ORDER BY threshold",
        )
        .bind(wallet)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks `threshold` of `subject` crossed and queues its event, once: `false` when it was
    /// marked already (another evaluation got there first).
    pub async fn cross_alert(
        &self,
        (wallet, subject, threshold): (&str, &str, i64),
        prefix: &str,
        event: &str,
        payload: &str,
        id: &str,
    ) -> Result<bool, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let marked = sqlx::query(
            "INSERT INTO alert_marks (wallet, subject, threshold, at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(wallet)
        .bind(subject)
        .bind(threshold)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if marked {
            queue(&mut tx, (id, prefix, wallet), event, payload, now).await?;
        }
        tx.commit().await?;
        Ok(marked)
    }

    /// Clears `subject`'s marks (it recovered) and queues the recovery event, once.
    pub async fn recover_alert(
        &self,
        (wallet, subject): (&str, &str),
        prefix: &str,
        event: &str,
        payload: &str,
        id: &str,
    ) -> Result<bool, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let cleared = sqlx::query("DELETE FROM alert_marks WHERE wallet = $1 AND subject = $2")
            .bind(wallet)
            .bind(subject)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if cleared {
            queue(&mut tx, (id, prefix, wallet), event, payload, now).await?;
        }
        tx.commit().await?;
        Ok(cleared)
    }

    /// Deliveries due now, oldest first, at most `limit`.
    pub async fn due_deliveries(&self, limit: i64) -> Result<Vec<Delivery>, LedgerError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_outbox WHERE state = 'pending' AND next_at_ms <= $1 \
             ORDER BY next_at_ms, id LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(self.now())
            .bind(limit.clamp(1, 1000))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records an attempt: delivered, or failed with `error` and retried at `retry_at_ms`
    /// (`None`: out of attempts, failed for good).
    pub async fn delivery_attempted(
        &self,
        id: &str,
        outcome: Result<(), (&str, Option<i64>)>,
    ) -> Result<(), LedgerError> {
        let now = self.now();
        let (state, error, next) = match outcome {
            Ok(()) => ("delivered", None, now),
            Err((e, Some(at))) => ("pending", Some(e), at),
            Err((e, None)) => ("failed", Some(e), now),
        };
        sqlx::query(
            "UPDATE alert_outbox SET state = $1, attempts = attempts + 1, last_error = $2, next_at_ms = $3, \
             delivered_at_ms = CASE WHEN $4 = 'delivered' THEN $5 ELSE delivered_at_ms END WHERE id = $6 AND state = 'pending'",
        )
        .bind(state)
        .bind(error)
        .bind(next)
        .bind(state)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest deliveries of `prefix`, newest first.
    pub async fn deliveries(&self, prefix: &str, limit: i64) -> Result<Vec<Delivery>, LedgerError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_outbox WHERE prefix = $1 ORDER BY created_at_ms DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(prefix)
            .bind(limit.clamp(1, 1000))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Sets (or with `None` removes) `wallet`'s monthly budget for alerts.
    pub async fn set_alert_budget(&self, wallet: &str, monthly: Option<i64>) -> Result<(), LedgerError> {
        match monthly {
            Some(n) if (1..=crate::AMOUNT_MAX).contains(&n) => {
                sqlx::query(
                    "INSERT INTO alert_budgets (wallet, monthly) VALUES ($1, $2) \
                     ON CONFLICT (wallet) DO UPDATE SET monthly = excluded.monthly",
                )
                .bind(wallet)
                .bind(n)
                .execute(&self.pool)
                .await?;
            }
            Some(n) => {
                return Err(LedgerError::InvalidAmount(format!(
                    "a monthly budget is from 1 to {} cr, not {n}",
                    crate::AMOUNT_MAX
                )));
            }
            None => {
                sqlx::query("DELETE FROM alert_budgets WHERE wallet = $1").bind(wallet).execute(&self.pool).await?;
            }
        }
        Ok(())
    }

    /// `wallet`'s monthly budget for alerts, if it has one.
    pub async fn alert_budget(&self, wallet: &str) -> Result<Option<i64>, LedgerError> {
        Ok(sqlx::query_scalar("SELECT monthly FROM alert_budgets WHERE wallet = $1")
            .bind(wallet)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Credits charged to `wallet` since `since_ms`.
    pub async fn spent_since(&self, wallet: &str, since_ms: i64) -> Result<i64, LedgerError> {
        let spent: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(t.amount) AS BIGINT) FROM transfers t JOIN accounts a ON a.id = t.debit \
             WHERE a.owner = $1 AND a.kind = 'lot' AND t.reason = 'charge' AND t.created_at_ms >= $2",
        )
        .bind(wallet)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(spent.unwrap_or(0))
    }
}

async fn queue(
    tx: &mut crate::Tx,
    (id, prefix, wallet): (&str, &str, &str),
    event: &str,
    payload: &str,
    now: i64,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO alert_outbox (id, prefix, wallet, event, payload, state, next_at_ms, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(prefix)
    .bind(wallet)
    .bind(event)
    .bind(payload)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
