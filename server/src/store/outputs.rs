//! A run's kept output files, by name and content hash.

use super::{OutputRow, Store};
use crate::ServerError;

impl Store {
    /// Indexes a run's kept output files.
    pub(crate) async fn insert_outputs(&self, run: &str, tenant: &str, files: &[OutputRow]) -> Result<(), ServerError> {
        let mut tx = self.write_tx().await?;
        for f in files {
            sqlx::query(
                "INSERT INTO outputs (run, tenant, name, hash, bytes, media_type) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (run, name) DO UPDATE SET hash = excluded.hash, bytes = excluded.bytes, \
                 media_type = excluded.media_type",
            )
            .bind(run)
            .bind(tenant)
            .bind(&f.name)
            .bind(&f.hash)
            .bind(f.bytes)
            .bind(&f.media_type)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's run's outputs, by name.
    pub(crate) async fn outputs(&self, tenant: &str, run: &str) -> Result<Vec<OutputRow>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT name, hash, bytes, media_type FROM outputs WHERE tenant = $1 AND run = $2 ORDER BY name",
        )
        .bind(tenant)
        .bind(run)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One of the tenant's outputs with this hash, if any.
    pub(crate) async fn output(&self, tenant: &str, hash: &str) -> Result<Option<OutputRow>, ServerError> {
        Ok(sqlx::query_as("SELECT name, hash, bytes, media_type FROM outputs WHERE tenant = $1 AND hash = $2 LIMIT 1")
            .bind(tenant)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?)
    }
}
