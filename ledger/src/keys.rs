//! Idempotency: every mutation carries a key. The first outcome under a key is stored in the
//! same transaction as the mutation (or, for a refusal, right after it), so a replay returns
//! it unchanged, and the same key with a different request is refused.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Ledger, LedgerError, Tx};

/// A request's fingerprint, to tell a replay from a reuse.
pub(crate) fn fingerprint(request: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    blake3::hash(&bytes).to_hex().to_string()
}

/// A keyed mutation's start: the earlier result to replay, or a fresh write transaction.
pub(crate) enum Begun<T> {
    /// The key was used for this request before: its result.
    Replay(T),
    /// A new request: a write transaction to do it in.
    Fresh(Tx),
}

impl Ledger {
    /// Starts a mutation under `key`: replays an earlier outcome (or refuses a reused or
    /// failed key), else opens the write transaction.
    pub(crate) async fn begin_keyed<T: DeserializeOwned>(
        &self,
        key: &str,
        hash: &str,
    ) -> Result<Begun<T>, LedgerError> {
        let mut tx = self.begin().await?;
        match self.recall(&mut tx, key, hash).await {
            Ok(Some(done)) => {
                tx.rollback().await?;
                Ok(Begun::Replay(done))
            }
            Ok(None) => Ok(Begun::Fresh(tx)),
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    /// The earlier outcome under `key`, if any: its result, its failure, or a refusal when
    /// the key was used for a different request.
    pub(crate) async fn recall<T: DeserializeOwned>(
        &self,
        tx: &mut Tx,
        key: &str,
        hash: &str,
    ) -> Result<Option<T>, LedgerError> {
        let row: Option<(String, i64, String)> =
            sqlx::query_as("SELECT request_hash, ok, result FROM idempotency WHERE key = ?")
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((stored, ok, result)) = row else { return Ok(None) };
        if stored != hash {
            return Err(LedgerError::KeyReused(key.to_string()));
        }
        if ok == 0 {
            return Err(LedgerError::KeyFailed { key: key.to_string(), message: result });
        }
        serde_json::from_str(&result).map(Some).map_err(|e| LedgerError::KeyFailed {
            key: key.to_string(),
            message: format!("stored result unreadable: {e}"),
        })
    }

    /// Commits `outcome` under `key`: a result with the mutation, a final refusal on its own
    /// (the mutation rolled back), a database failure not at all (it may be retried).
    pub(crate) async fn settle<T: Serialize>(
        &self,
        mut tx: Tx,
        key: &str,
        hash: &str,
        outcome: Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        match outcome {
            Ok(value) => {
                let result = serde_json::to_string(&value).unwrap_or_default();
                remember(&mut tx, key, hash, true, &result, self.now()).await?;
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                tx.rollback().await?;
                if e.is_final() {
                    let mut tx = self.begin().await?;
                    remember(&mut tx, key, hash, false, &e.to_string(), self.now()).await?;
                    tx.commit().await?;
                }
                Err(e)
            }
        }
    }
}

async fn remember(tx: &mut Tx, key: &str, hash: &str, ok: bool, result: &str, now_ms: i64) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO idempotency (key, request_hash, ok, result, created_at_ms) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(hash)
    .bind(i64::from(ok))
    .bind(result)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
