//! Idempotency: every mutation carries a key. The first outcome under a key is stored in the
//! same transaction as the mutation, so a replay returns it unchanged, and the same key with
//! a different request is refused. A final refusal is stored too (the mutation itself rolled
//! back to a savepoint), so a key whose first use failed stays failed.
//!
//! On SQLite the write lock, taken first, orders keyed mutations. On PostgreSQL a mutation
//! first *claims* its key by inserting the key's row (`ok = 2`): a concurrent request under
//! the same key blocks on that row until the first commits, then replays its outcome.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Backend, Ledger, LedgerError, Tx};

/// How often a mutation runs again after PostgreSQL broke a deadlock or a serialization
/// conflict by aborting it.
pub(crate) const RETRIES: u32 = 8;

/// A request's fingerprint, to tell a replay from a reuse.
pub(crate) fn fingerprint(request: &impl Serialize) -> String {
    // Serialized straight into the hasher: no buffer per request.
    let mut hasher = blake3::Hasher::new();
    // Writing to a hasher cannot fail, and every request type serializes.
    let _ = serde_json::to_writer(&mut hasher, request);
    hasher.finalize().to_hex().to_string()
}

/// A keyed mutation's start: the earlier result to replay, or a fresh write transaction.
pub(crate) enum Begun<T> {
    /// The key was used for this request before: its result.
    Replay(T),
    /// A new request: a write transaction to do it in (the key claimed, on PostgreSQL).
    Fresh(Tx),
}

/// Runs a mutation once under a key: `keyed!(ledger, key, hash, |tx| body)`, where `body`
/// is an expression (awaited inside) that does the work in `tx` and yields its `Result`.
/// It replays an earlier outcome (or refuses a reused or failed key), else runs `body` in a
/// write transaction and stores its outcome with it. A transaction the database aborted
/// for a concurrent one (PostgreSQL's deadlock and serialization failures) runs again, a
/// few times. A macro, not a closure: the body's future stays `Send` without boxing.
macro_rules! keyed {
    ($ledger:expr, $key:expr, $hash:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            let outcome = match $ledger.begin_keyed($key, $hash).await {
                Ok($crate::keys::Begun::Replay(done)) => break Ok(done),
                Ok($crate::keys::Begun::Fresh(mut tx)) => {
                    let outcome = {
                        let $tx = &mut tx;
                        $body
                    };
                    $ledger.settle(tx, $key, $hash, outcome).await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if e.is_retryable() && attempt < $crate::keys::RETRIES => {
                    attempt += 1;
                    $crate::keys::pause(attempt).await;
                }
                outcome => break outcome,
            }
        }
    }};
}
pub(crate) use keyed;

/// How long to wait before running an aborted transaction again.
pub(crate) async fn pause(attempt: u32) {
    tracing::debug!(attempt, "ledger transaction aborted by a concurrent one; running it again");
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 3)).await;
}

impl Ledger {
    /// Stores `outcome` under `key` and commits: a result with the mutation, a final
    /// refusal without it (rolled back to the savepoint taken after the key), a database
    /// failure not at all (the whole transaction rolls back; it may be retried).
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
            Err(e) if e.is_final() => {
                sqlx::query("ROLLBACK TO SAVEPOINT keyed").execute(&mut *tx).await?;
                remember(&mut tx, key, hash, false, &e.to_string(), self.now()).await?;
                tx.commit().await?;
                Err(e)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    /// Starts a mutation under `key`: replays an earlier outcome (or refuses a reused or
    /// failed key), else opens the write transaction, with the key claimed on PostgreSQL
    /// and a savepoint to roll a refusal back to.
    pub(crate) async fn begin_keyed<T: DeserializeOwned>(
        &self,
        key: &str,
        hash: &str,
    ) -> Result<Begun<T>, LedgerError> {
        let mut tx = self.begin().await?;
        let claimed = self.backend == Backend::Postgres && claim(&mut tx, key, hash, self.now()).await?;
        if !claimed {
            match recall(&mut tx, key, hash).await {
                Ok(None) => {}
                Ok(Some(done)) => {
                    tx.rollback().await?;
                    return Ok(Begun::Replay(done));
                }
                Err(e) => {
                    tx.rollback().await?;
                    return Err(e);
                }
            }
        }
        sqlx::query("SAVEPOINT keyed").execute(&mut *tx).await?;
        Ok(Begun::Fresh(tx))
    }
}

/// Inserts the key's row as a claim; `false` when the key already has a (committed) row. A
/// claim by a transaction still in flight makes this wait for it to end.
pub(crate) async fn claim(tx: &mut Tx, key: &str, hash: &str, now_ms: i64) -> Result<bool, LedgerError> {
    let done = sqlx::query(
        "INSERT INTO idempotency (key, request_hash, ok, result, created_at_ms) VALUES ($1, $2, 2, '', $3) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(hash)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The earlier outcome under `key`, if any: its result, its failure, or a refusal when the
/// key was used for a different request.
pub(crate) async fn recall<T: DeserializeOwned>(tx: &mut Tx, key: &str, hash: &str) -> Result<Option<T>, LedgerError> {
    let row: Option<(String, i64, String)> =
        sqlx::query_as("SELECT request_hash, ok, result FROM idempotency WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((stored, ok, result)) = row else { return Ok(None) };
    if stored != hash {
        return Err(LedgerError::KeyReused(key.to_string()));
    }
    match ok {
        1 => serde_json::from_str(&result).map(Some).map_err(|e| LedgerError::KeyFailed {
            key: key.to_string(),
            message: format!("stored result unreadable: {e}"),
        }),
        0 => Err(LedgerError::KeyFailed { key: key.to_string(), message: result }),
        _ => Err(LedgerError::KeyFailed { key: key.to_string(), message: "its first use never finished".into() }),
    }
}

/// Stores the outcome under `key`, replacing this transaction's own claim.
pub(crate) async fn remember(
    tx: &mut Tx,
    key: &str,
    hash: &str,
    ok: bool,
    result: &str,
    now_ms: i64,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO idempotency (key, request_hash, ok, result, created_at_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, ok = excluded.ok, result = excluded.result \
         WHERE idempotency.ok = 2",
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
