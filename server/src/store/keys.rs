//! Tenants and their API keys (only the secrets' hashes are kept).

use super::{KeyRow, Store, now_ms};
use crate::ServerError;
use crate::protocol::KeyView;

impl Store {
    /// Whether the server has `tenant`.
    pub(crate) async fn tenant_exists(&self, tenant: &str) -> Result<bool, ServerError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1").bind(tenant).fetch_optional(&self.pool).await?;
        Ok(found.is_some())
    }

    pub(crate) async fn ensure_tenant(&self, tenant: &str) -> Result<(), ServerError> {
        sqlx::query("INSERT INTO tenants (id, created_at_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(tenant)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn insert_key(
        &self,
        id: &str,
        tenant: &str,
        hash: &str,
        role: &str,
        expires_at_ms: Option<i64>,
        member: Option<&str>,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, secret_hash, role, created_at_ms, expires_at_ms, member) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(tenant)
        .bind(hash)
        .bind(role)
        .bind(now_ms())
        .bind(expires_at_ms)
        .bind(member)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant's keys, newest first (never their secrets' hashes).
    pub(crate) async fn keys(&self, tenant: &str) -> Result<Vec<KeyView>, ServerError> {
        type Row = (String, String, Option<String>, i64, Option<i64>, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, role, member, created_at_ms, expires_at_ms, revoked_at_ms FROM api_keys WHERE tenant = $1 \
             ORDER BY created_at_ms DESC, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, role, member, created_at_ms, expires_at_ms, revoked_at_ms)| KeyView {
                id,
                role,
                member,
                created_at_ms,
                expires_at_ms,
                revoked_at_ms,
            })
            .collect())
    }

    /// Revokes the tenant's key `id` (once: a second revoke keeps the first time); `None`
    /// when the tenant has no such key.
    pub(crate) async fn revoke_key(&self, tenant: &str, id: &str) -> Result<Option<KeyView>, ServerError> {
        sqlx::query("UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE tenant = $2 AND id = $3")
            .bind(now_ms())
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(self.keys(tenant).await?.into_iter().find(|k| k.id == id))
    }

    pub(crate) async fn key(&self, id: &str) -> Result<Option<KeyRow>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT tenant, secret_hash, role, member, expires_at_ms, revoked_at_ms FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
