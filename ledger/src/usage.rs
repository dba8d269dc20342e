//! What the ledger says each provider performed, for reconciliation against the provider's
//! own usage export: the costs owed to a provider per vendor id, streamed in byte order of
//! the id (so a merge with a sorted export needs no map of either side), the costs with no
//! vendor id in aggregate, and the holds whose outcome is unknown.

use futures::stream::{BoxStream, StreamExt};
use serde::Serialize;

use crate::subscriptions::HoldRecord;
use crate::{Ledger, LedgerError, system};

/// The cost owed to a provider for one vendor id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VendorCost {
    /// The provider's request or task id.
    pub vendor_id: String,
    /// Credits owed to the provider (without the margin).
    pub cost: i64,
    /// The hold charged (the first, if several share the id).
    pub hold_id: Option<String>,
    /// When it was charged (unix ms).
    pub at_ms: i64,
}

/// Costs the ledger cannot match by id: charged without a vendor id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unidentified {
    /// How many transfers.
    pub transfers: i64,
    /// Their credits.
    pub cost: i64,
}

impl Ledger {
    /// The costs owed to `provider` charged in `[from_ms, to_ms)`, one per vendor id, in byte
    /// order of the id. Streamed: memory does not grow with the number of rows.
    pub fn vendor_costs(
        &self,
        provider: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxStream<'_, Result<VendorCost, LedgerError>> {
        // Byte order on both stores, as the export side is sorted.
        let order = match self.backend {
            crate::Backend::Postgres => "vendor_id COLLATE \"C\"",
            crate::Backend::Sqlite => "vendor_id",
        };
        let sql = format!(
            "SELECT vendor_id, CAST(SUM(amount) AS BIGINT), MIN(hold_id), MIN(created_at_ms) FROM transfers \
             WHERE credit = $1 AND vendor_id IS NOT NULL AND created_at_ms >= $2 AND created_at_ms < $3 \
             GROUP BY vendor_id ORDER BY {order}"
        );
        sqlx::query_as::<_, (String, i64, Option<String>, i64)>(sqlx::AssertSqlSafe(sql))
            .bind(system::payable(provider))
            .bind(from_ms)
            .bind(to_ms)
            .fetch(&self.pool)
            .map(|row| {
                let (vendor_id, cost, hold_id, at_ms) = row?;
                Ok(VendorCost { vendor_id, cost, hold_id, at_ms })
            })
            .boxed()
    }

    /// The costs owed to `provider` in `[from_ms, to_ms)` charged with no vendor id.
    pub async fn unidentified_costs(
        &self,
        provider: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Unidentified, LedgerError> {
        let (transfers, cost): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(amount) AS BIGINT) FROM transfers WHERE credit = $1 AND vendor_id IS NULL \
             AND created_at_ms >= $2 AND created_at_ms < $3",
        )
        .bind(system::payable(provider))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(Unidentified { transfers, cost: cost.unwrap_or(0) })
    }

    /// Costs owed to `provider` per UTC day (`YYYY-MM-DD`, credits) in `[from_ms, to_ms)`:
    /// what a provider that exports only daily totals is compared with.
    pub async fn daily_costs(
        &self,
        provider: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, i64)>, LedgerError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT created_at_ms / 86400000, CAST(SUM(amount) AS BIGINT) FROM transfers WHERE credit = $1 \
             AND created_at_ms >= $2 AND created_at_ms < $3 GROUP BY created_at_ms / 86400000 ORDER BY 1",
        )
        .bind(system::payable(provider))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(day, cost)| (crate::plans::day_name(day), cost.unwrap_or(0))).collect())
    }

    /// `provider`'s call holds whose outcome is unknown, oldest first.
    pub async fn unknown_holds(&self, provider: &str) -> Result<Vec<HoldRecord>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT id, wallet, amount, state, timeout_at_ms, posted, run_id, node_id, provider, vendor_id, sent_at_ms, \
             review, evidence, kind FROM holds WHERE provider = $1 AND state = 'unknown' AND kind = 'call' \
             ORDER BY created_at_ms, id LIMIT 100000",
        )
        .bind(provider)
        .fetch_all(&self.pool)
        .await?)
    }
}
