//! Many holds in one transaction, written with multi-row statements: the earlier outcomes of
//! every key are read at once, each wallet's lots once, allocation happens in memory in
//! request order, and holds, legs, reservations and idempotency records are written in a few
//! statements. One durable commit for the whole batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use std::collections::BTreeSet;

use sqlx::AssertSqlSafe;

use crate::holds::{HoldId, allocate, check_request, free_lots, reserve, wallet_exists};
use crate::keys::fingerprint;
use crate::types::{Credits, HoldRequest};
use crate::{Ledger, LedgerError, Tx, on_postgres};

/// Rows per multi-row statement (SQLite allows 32,766 bound values, PostgreSQL 65,535;
/// holds bind 11 per row).
const ROWS: usize = 1_000;

/// An earlier or in-batch outcome under a key: its request hash and result.
type Known = HashMap<String, (String, Result<HoldId, String>)>;

struct NewHold<'a> {
    id: String,
    req: &'a HoldRequest,
    legs: Vec<(String, i64)>,
}

impl Ledger {
    /// Many holds in one transaction (one durable commit): each succeeds or is refused on
    /// its own, in order, exactly as the same holds made one by one would.
    pub async fn hold_many(
        &self,
        reqs: &[(HoldRequest, String)],
    ) -> Result<Vec<Result<HoldId, LedgerError>>, LedgerError> {
        let mut tx = self.begin().await?;
        let now = self.now();
        let keys: BTreeSet<&str> = reqs.iter().map(|(_, k)| k.as_str()).collect();
        let claimed = claim_keys(&mut tx, &keys, now).await?;
        let earlier: Vec<&str> = keys.iter().copied().filter(|k| !claimed.contains(*k)).collect();
        let mut known = earlier_outcomes(&mut tx, &earlier).await?;
        // Each wallet's lots (locked, on PostgreSQL, in wallet order, so concurrent batches
        // never wait on each other in a cycle) and whether it is a team pool (then only
        // named members spend), read once.
        let mut lots: BTreeMap<&str, Vec<(String, i64)>> = BTreeMap::new();
        let mut pools: BTreeMap<&str, bool> = BTreeMap::new();
        for wallet in reqs.iter().map(|(r, _)| r.wallet.as_str()).collect::<BTreeSet<_>>() {
            lots.insert(wallet, free_lots(&mut tx, wallet, now).await?);
            pools.insert(wallet, crate::members::has_members(&mut tx, wallet).await?);
        }
        let (mut out, mut fresh, mut remembered) = (Vec::with_capacity(reqs.len()), Vec::new(), Vec::new());
        for (req, key) in reqs {
            let hash = fingerprint(&("hold", req));
            if let Some((stored, result)) = known.get(key.as_str()) {
                out.push(replay(key, stored, &hash, result));
                continue;
            }
            let pool = pools.get(req.wallet.as_str()).copied().unwrap_or(false);
            let wallet_lots = lots.get_mut(req.wallet.as_str()).map_or(&mut [][..], |v| &mut v[..]);
            let outcome = if let Err(invalid) = check_request(req) {
                Err(invalid)
            } else if req.parent.is_some() {
                Err(LedgerError::InvalidAmount("batched holds take from wallets, not run reservations".into()))
            } else if let Some(legs) = allocate(wallet_lots, req.amount.0) {
                match take_member(&mut tx, req, pool, now).await {
                    Ok(()) => {
                        let id = format!("hold:{key}");
                        fresh.push(NewHold { id: id.clone(), req, legs });
                        Ok(HoldId(id))
                    }
                    Err(refused) => {
                        give_back(wallet_lots, &legs);
                        Err(refused)
                    }
                }
            } else {
                let available = Credits(wallet_lots.iter().map(|(_, f)| f).sum());
                match wallet_exists(&mut *tx, &req.wallet).await {
                    Ok(()) => Err(LedgerError::InsufficientFunds {
                        wallet: req.wallet.clone(),
                        available,
                        needed: req.amount,
                    }),
                    Err(unknown) => Err(unknown),
                }
            };
            let stored = outcome.as_ref().map(Clone::clone).map_err(ToString::to_string);
            remembered.push((key.as_str(), hash.clone(), stored.clone()));
            known.insert(key.clone(), (hash, stored));
            out.push(outcome);
        }
        write_holds(&mut tx, &fresh, now).await?;
        write_outcomes(&mut tx, &remembered, now).await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// Reserves the member's cap, for a hold with a member (one statement each).
async fn take_member(tx: &mut Tx, req: &HoldRequest, pool: bool, now: i64) -> Result<(), LedgerError> {
    match &req.member {
        Some(member) => crate::members::take(tx, &req.wallet, member, req.amount.0, now).await,
        None if pool => crate::members::require_member(tx, &req.wallet, None).await,
        None => Ok(()),
    }
}

/// Returns an in-memory allocation to the lots it came from.
fn give_back(lots: &mut [(String, i64)], legs: &[(String, i64)]) {
    for (lot, take) in legs {
        if let Some(l) = lots.iter_mut().find(|(id, _)| id == lot) {
            l.1 += take;
        }
    }
}

fn replay(key: &str, stored: &str, hash: &str, result: &Result<HoldId, String>) -> Result<HoldId, LedgerError> {
    if stored != hash {
        return Err(LedgerError::KeyReused(key.to_string()));
    }
    result.clone().map_err(|message| LedgerError::KeyFailed { key: key.to_string(), message })
}

/// `($1, $2, $3), ($4, $5, $6)`: `rows` groups of `width` placeholders, numbered from 1 for
/// PostgreSQL. SQLite gets plain `?`s: it looks each named parameter up in a list, which
/// makes a thousand-row statement of `$N`s twenty times slower to prepare.
fn placeholders(tx: &Tx, rows: usize, width: usize) -> String {
    let numbered = on_postgres(tx);
    let mut sql = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..width {
            if col > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(row * width + col + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// On PostgreSQL, claims the batch's keys that have no row yet (see `keys.rs`), in key
/// order; a key another transaction claimed waits for it. Nothing on SQLite, whose write
/// lock already orders batches.
async fn claim_keys(tx: &mut Tx, keys: &BTreeSet<&str>, now: i64) -> Result<HashSet<String>, LedgerError> {
    let mut claimed = HashSet::new();
    if !on_postgres(tx) {
        return Ok(claimed);
    }
    let keys: Vec<&str> = keys.iter().copied().collect();
    for chunk in keys.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO idempotency (key, request_hash, ok, result, created_at_ms) VALUES {} \
             ON CONFLICT (key) DO NOTHING RETURNING key",
            placeholders(tx, chunk.len(), 5)
        );
        let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
        for key in chunk {
            q = q.bind(*key).bind("").bind(2i64).bind("").bind(now);
        }
        let rows: Vec<String> = q.fetch_all(&mut **tx).await?;
        claimed.extend(rows);
    }
    Ok(claimed)
}

async fn earlier_outcomes(tx: &mut Tx, keys: &[&str]) -> Result<Known, LedgerError> {
    let mut known = Known::new();
    for chunk in keys.chunks(ROWS) {
        let sql = format!(
            "SELECT key, request_hash, ok, result FROM idempotency WHERE key IN {}",
            placeholders(tx, 1, chunk.len())
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(*k);
        }
        let rows: Vec<(String, String, i64, String)> = q.fetch_all(&mut **tx).await?;
        for (key, hash, ok, result) in rows {
            let outcome = if ok == 1 { serde_json::from_str(&result).map_err(|e| e.to_string()) } else { Err(result) };
            known.insert(key, (hash, outcome));
        }
    }
    Ok(known)
}

async fn write_holds(tx: &mut Tx, fresh: &[NewHold<'_>], now: i64) -> Result<(), LedgerError> {
    let mut per_lot: BTreeMap<&str, i64> = BTreeMap::new();
    for h in fresh {
        for (lot, take) in &h.legs {
            *per_lot.entry(lot.as_str()).or_default() += take;
        }
    }
    for (lot, total) in per_lot {
        reserve(tx, lot, total).await?;
    }
    for chunk in fresh.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO holds (id, wallet, amount, state, timeout_at_ms, run_id, node_id, provider, vendor_id, \
             created_at_ms, member) VALUES {}",
            placeholders(tx, chunk.len(), 11)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for h in chunk {
            let a = &h.req.audit;
            q = q
                .bind(h.id.as_str())
                .bind(h.req.wallet.as_str())
                .bind(h.req.amount.0)
                .bind("pending")
                .bind(now.saturating_add(h.req.timeout_ms))
                .bind(a.run_id.as_deref())
                .bind(a.node_id.as_deref())
                .bind(a.provider.as_deref())
                .bind(a.vendor_id.as_deref())
                .bind(now)
                .bind(h.req.member.as_deref());
        }
        q.execute(&mut **tx).await?;
    }
    let legs: Vec<(&str, usize, &str, i64)> = fresh
        .iter()
        .flat_map(|h| h.legs.iter().enumerate().map(|(seq, (lot, take))| (h.id.as_str(), seq, lot.as_str(), *take)))
        .collect();
    for chunk in legs.chunks(ROWS) {
        let sql =
            format!("INSERT INTO hold_legs (hold_id, seq, lot, amount) VALUES {}", placeholders(tx, chunk.len(), 4));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (hold, seq, lot, take) in chunk {
            q = q.bind(*hold).bind(*seq as i64).bind(*lot).bind(*take);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Stores each key's outcome, replacing this batch's own claims.
async fn write_outcomes(
    tx: &mut Tx,
    rows: &[(&str, String, Result<HoldId, String>)],
    now: i64,
) -> Result<(), LedgerError> {
    for chunk in rows.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO idempotency (key, request_hash, ok, result, created_at_ms) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, ok = excluded.ok, \
             result = excluded.result WHERE idempotency.ok = 2",
            placeholders(tx, chunk.len(), 5)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (key, hash, outcome) in chunk {
            let (ok, result) = match outcome {
                Ok(id) => (1i64, serde_json::to_string(id).unwrap_or_default()),
                Err(message) => (0, message.clone()),
            };
            q = q.bind(*key).bind(hash.as_str()).bind(ok).bind(result).bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
