//! Usage analytics: a row per placed node of each billed run (written when the run ends),
//! and totals grouped by any of account, member, provider, model, node type and day.

use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;

use crate::{Ledger, LedgerError};

/// One placed node's use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The node.
    pub node_id: String,
    /// Its type (`cloud.image.generate`).
    pub node_type: String,
    /// `local`, or the provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Whether it ran on this machine.
    pub local: bool,
    /// Whether it failed.
    pub failed: bool,
    /// Credits charged.
    pub credits: i64,
    /// For a local node: the cheapest cloud placement's credits (what it saved).
    pub cloud_equiv: i64,
    /// Estimated gCO2eq.
    pub gco2eq: f64,
}

/// What usage is grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    /// The wallet.
    Account,
    /// The team member.
    Member,
    /// The provider (`local` for local work).
    Provider,
    /// The model.
    Model,
    /// The node type.
    NodeType,
    /// The UTC day.
    Day,
}

impl Dim {
    fn column(self) -> &'static str {
        match self {
            Dim::Account => "wallet",
            Dim::Member => "COALESCE(member, '-')",
            Dim::Provider => "provider",
            Dim::Model => "model",
            Dim::NodeType => "node_type",
            Dim::Day => "day",
        }
    }
}

/// Totals of one group.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct UsageTotals {
    /// The group's keys, in the order asked (joined by `|`).
    pub key: String,
    /// Credits charged.
    pub credits: i64,
    /// Nodes run.
    pub calls: i64,
    /// Of which failed.
    pub failures: i64,
    /// Distinct runs.
    pub runs: i64,
    /// Milligrams CO2eq.
    pub mg_co2eq: i64,
    /// Nodes run locally.
    pub local_calls: i64,
    /// What the local nodes would have cost in the cloud.
    pub savings: i64,
}

impl UsageTotals {
    /// Average credits per run.
    pub fn credits_per_run(&self) -> f64 {
        if self.runs == 0 { 0.0 } else { self.credits as f64 / self.runs as f64 }
    }

    /// The share of nodes run locally, 0 to 1.
    pub fn local_share(&self) -> f64 {
        if self.calls == 0 { 0.0 } else { self.local_calls as f64 / self.calls as f64 }
    }
}

impl Ledger {
    /// Records a run's placed nodes (a replay of the same run and node changes nothing).
    pub async fn record_usage(
        &self,
        run_id: &str,
        wallet: &str,
        member: Option<&str>,
        records: &[UsageRecord],
    ) -> Result<(), LedgerError> {
        let now = self.now();
        let day = crate::plans::day_name(now.div_euclid(86_400_000));
        let mut tx = self.pool.begin().await?;
        for r in records {
            sqlx::query(
                "INSERT INTO usage_records (run_id, node_id, wallet, member, node_type, provider, model, local, failed, \
                 credits, cloud_equiv, mg_co2eq, day, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (run_id, node_id) DO NOTHING",
            )
            .bind(run_id)
            .bind(&r.node_id)
            .bind(wallet)
            .bind(member)
            .bind(&r.node_type)
            .bind(&r.provider)
            .bind(&r.model)
            .bind(i64::from(r.local))
            .bind(i64::from(r.failed))
            .bind(r.credits)
            .bind(r.cloud_equiv)
            .bind((r.gco2eq * 1000.0).round() as i64)
            .bind(&day)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Usage of wallets whose names start with `prefix`, on days `[from_day, to_day)`
    /// (`YYYY-MM-DD`), grouped by `by` (keys joined by `|`), by key.
    pub async fn usage(&self, prefix: &str, days: (&str, &str), by: &[Dim]) -> Result<Vec<UsageTotals>, LedgerError> {
        let key = match by {
            [] => "'all'".to_string(),
            dims => dims.iter().map(|d| d.column()).collect::<Vec<_>>().join(" || '|' || "),
        };
        let sql = format!(
            "SELECT {key} AS key, CAST(SUM(credits) AS BIGINT) AS credits, COUNT(*) AS calls, \
             CAST(SUM(failed) AS BIGINT) AS failures, COUNT(DISTINCT run_id) AS runs, \
             CAST(SUM(mg_co2eq) AS BIGINT) AS mg_co2eq, CAST(SUM(local) AS BIGINT) AS local_calls, \
             CAST(SUM(CASE WHEN local = 1 THEN cloud_equiv ELSE 0 END) AS BIGINT) AS savings \
             FROM usage_records WHERE substr(wallet, 1, CAST($1 AS INTEGER)) = $2 AND day >= $3 AND day < $4 \
             GROUP BY {key} ORDER BY 1 LIMIT 10000"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(prefix.len() as i64)
            .bind(prefix)
            .bind(days.0)
            .bind(days.1)
            .fetch_all(&self.pool)
            .await?)
    }
}

impl Ledger {
    /// The lots `wallet` owns (expired ones too).
    pub async fn lots_of(&self, wallet: &str) -> Result<Vec<String>, LedgerError> {
        Ok(sqlx::query_scalar("SELECT id FROM accounts WHERE owner = $1 AND kind = 'lot' ORDER BY id")
            .bind(wallet)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Credits charged to `wallet` in `[from_ms, to_ms)` per team member (`-` for none).
    pub async fn spend_by_member(
        &self,
        wallet: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, i64)>, LedgerError> {
        let rows: Vec<(Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT COALESCE(h.member, p.member), CAST(SUM(t.amount) AS BIGINT) FROM transfers t \
             JOIN accounts a ON a.id = t.debit JOIN holds h ON h.id = t.hold_id LEFT JOIN holds p ON p.id = h.parent \
             WHERE a.owner = $1 AND a.kind = 'lot' AND t.reason = 'charge' AND t.created_at_ms >= $2 AND t.created_at_ms < $3 \
             GROUP BY COALESCE(h.member, p.member) ORDER BY 1",
        )
        .bind(wallet)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(m, c)| (m.unwrap_or_else(|| "-".into()), c.unwrap_or(0))).collect())
    }
}
