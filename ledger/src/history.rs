//! The audit trail: every transfer with its account pair, reason, run, node, provider and
//! vendor id, exported as JSON or CSV.

use crate::types::{Audit, Credits, TransferRecord};
use crate::{Ledger, LedgerError};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    debit: String,
    credit: String,
    amount: i64,
    reason: String,
    hold_id: Option<String>,
    run_id: Option<String>,
    node_id: Option<String>,
    provider: Option<String>,
    vendor_id: Option<String>,
    idempotency_key: Option<String>,
    created_at_ms: i64,
}

impl Ledger {
    /// Every transfer, oldest first; with `wallet`, only those touching its lots.
    pub async fn history(&self, wallet: Option<&str>) -> Result<Vec<TransferRecord>, LedgerError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT t.id, t.debit, t.credit, t.amount, t.reason, t.hold_id, t.run_id, t.node_id, t.provider, \
             t.vendor_id, t.idempotency_key, t.created_at_ms FROM transfers t \
             WHERE $1 IS NULL OR t.debit IN (SELECT id FROM accounts WHERE owner = $2) \
             OR t.credit IN (SELECT id FROM accounts WHERE owner = $3) ORDER BY t.id",
        )
        .bind(wallet)
        .bind(wallet)
        .bind(wallet)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(record).collect())
    }
}

fn record(r: Row) -> TransferRecord {
    TransferRecord {
        id: r.id,
        debit: r.debit,
        credit: r.credit,
        amount: Credits(r.amount),
        reason: r.reason,
        hold_id: r.hold_id,
        audit: Audit { run_id: r.run_id, node_id: r.node_id, provider: r.provider, vendor_id: r.vendor_id },
        idempotency_key: r.idempotency_key,
        created_at_ms: r.created_at_ms,
    }
}

/// The records as CSV, with a header; fields with commas, quotes or newlines are quoted.
pub fn to_csv(records: &[TransferRecord]) -> String {
    let mut out = String::from(
        "id,created_at_ms,debit,credit,amount,reason,hold_id,run_id,node_id,provider,vendor_id,idempotency_key\n",
    );
    for r in records {
        let a = &r.audit;
        let fields = [
            r.id.to_string(),
            r.created_at_ms.to_string(),
            r.debit.clone(),
            r.credit.clone(),
            r.amount.0.to_string(),
            r.reason.clone(),
            r.hold_id.clone().unwrap_or_default(),
            a.run_id.clone().unwrap_or_default(),
            a.node_id.clone().unwrap_or_default(),
            a.provider.clone().unwrap_or_default(),
            a.vendor_id.clone().unwrap_or_default(),
            r.idempotency_key.clone().unwrap_or_default(),
        ];
        out += &fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
        out.push('\n');
    }
    out
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.to_string() }
}
