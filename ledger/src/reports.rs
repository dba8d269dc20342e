//! Reconciliation reports, stored as their JSON with what they are listed by.

use serde::Serialize;

use crate::{Ledger, LedgerError};

/// A stored report, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredReport {
    /// Its id (`rec_…`).
    pub id: String,
    /// The provider.
    pub provider: String,
    /// The window it covered (unix ms).
    pub from_ms: i64,
    /// Its end.
    pub to_ms: i64,
    /// 1 when its variance was over the threshold.
    pub flagged: i64,
    /// When it was made (unix ms).
    pub created_at_ms: i64,
}

impl Ledger {
    /// Stores a reconciliation report (its JSON); returns its id.
    pub async fn save_report(
        &self,
        provider: &str,
        window_ms: (i64, i64),
        flagged: bool,
        report_json: &str,
    ) -> Result<String, LedgerError> {
        let id = format!("rec_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(
            "INSERT INTO reconciliations (id, provider, from_ms, to_ms, flagged, report, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(provider)
        .bind(window_ms.0)
        .bind(window_ms.1)
        .bind(i64::from(flagged))
        .bind(report_json)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Stored reports, newest first (of one provider, if named), at most `limit`.
    pub async fn reports(&self, provider: Option<&str>, limit: i64) -> Result<Vec<StoredReport>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT id, provider, from_ms, to_ms, flagged, created_at_ms FROM reconciliations \
             WHERE ($1 IS NULL OR provider = $2) ORDER BY created_at_ms DESC, id DESC LIMIT $3",
        )
        .bind(provider)
        .bind(provider)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?)
    }

    /// One stored report's JSON.
    pub async fn report(&self, id: &str) -> Result<Option<String>, LedgerError> {
        Ok(sqlx::query_scalar("SELECT report FROM reconciliations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
