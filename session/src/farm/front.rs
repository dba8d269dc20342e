//! The server's side of the worker protocol, for workers that join through its URL: a
//! leased task's frames by content hash, and the ledger steps of its paid calls, taken with
//! the task's own wallet and reservation whatever the worker sends.

use std::path::PathBuf;

use switchyard_engine::batch::item_names;
use switchyard_farm::{Farm, FarmError, FarmRun, Lease, SpendStep, Spent, TaskItem, TaskView};
use switchyard_ledger::{Audit, Credits, HoldId, HoldRequest, LedgerError};

/// The longest a remote worker's call hold may live: a day.
const HOLD_MAX_MS: i64 = 86_400_000;

/// The run `lease` belongs to.
async fn run_of(farm: &Farm, lease: &Lease) -> Result<FarmRun, FarmError> {
    farm.run(&lease.run_id).await?.ok_or_else(|| FarmError::Corrupt(format!("run {} is not stored", lease.run_id)))
}

/// The task's frames' files on this machine, with their names.
fn frames(run: &FarmRun, lease: &Lease) -> Result<Vec<(String, PathBuf)>, FarmError> {
    let (from, to) = (lease.item_from.max(0) as usize, lease.item_to.max(0) as usize);
    let names = if run.names.is_empty() { item_names(&run.files) } else { run.names.clone() };
    let (Some(files), Some(names)) = (run.files.get(from..to), names.get(from..to)) else {
        return Err(FarmError::Corrupt(format!("task {} names frames outside its run", lease.task)));
    };
    Ok(names.iter().cloned().zip(files.iter().map(PathBuf::from)).collect())
}

/// What a remote worker needs to run the leased task: its run's workflow and settings, and
/// its frames by content hash.
pub async fn task_view(farm: &Farm, lease: &Lease) -> Result<TaskView, FarmError> {
    let run = run_of(farm, lease).await?;
    let mut items = Vec::new();
    for (name, path) in frames(&run, lease)? {
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| FarmError::Corrupt(format!("frame {name:?} ({}): {e}", path.display())))?;
        let file = path.file_name().map_or_else(|| "frame".into(), |f| f.to_string_lossy().into_owned());
        items.push(TaskItem { name, file, hash: blake3::hash(&bytes).to_hex().to_string(), bytes: bytes.len() as u64 });
    }
    Ok(TaskView { workflow: run.workflow, bind: run.bind, overrides: run.overrides, billing: run.billing, items })
}

/// The file of the leased task's frame `n`, or `None` when it has no such frame.
pub async fn task_input(farm: &Farm, lease: &Lease, n: usize) -> Result<Option<PathBuf>, FarmError> {
    let run = run_of(farm, lease).await?;
    Ok(frames(&run, lease)?.into_iter().nth(n).map(|(_, path)| path))
}

fn refused(code: &str, message: impl Into<String>) -> LedgerError {
    LedgerError::Refused { code: code.into(), message: message.into() }
}

/// Takes a ledger step of the leased task's paid call. A hold is always drawn from the
/// task's reservation on its run's wallet; a step on a hold that is not one of the task's
/// is refused; every key is scoped to the task, so no worker can replay another's.
pub async fn spend_step(farm: &Farm, lease: &Lease, step: &SpendStep) -> Result<Spent, LedgerError> {
    let run = run_of(farm, lease).await.map_err(|e| LedgerError::Unreachable(e.to_string()))?;
    let (Some(billing), Some(reservation)) = (&run.billing, &lease.hold) else {
        return Err(refused("not-billed", format!("task {} has no reservation: its run bills nothing", lease.task)));
    };
    let ledger = farm.ledger();
    let scoped = |key: &str| format!("task{}:{key}", lease.task);
    let hold = match step {
        SpendStep::Hold { amount, timeout_ms, run_id, node, provider, key } => {
            let req = HoldRequest {
                wallet: billing.account.clone(),
                amount: Credits(*amount),
                timeout_ms: (*timeout_ms).clamp(1_000, HOLD_MAX_MS),
                audit: Audit {
                    run_id: Some(run_id.clone()),
                    node_id: Some(node.clone()),
                    provider: Some(provider.clone()),
                    vendor_id: None,
                },
                member: billing.member.clone(),
                parent: Some(reservation.clone()),
            };
            let hold = ledger.hold(&req, &scoped(key)).await?;
            return Ok(Spent { hold: Some(hold.0) });
        }
        SpendStep::Void { hold, .. }
        | SpendStep::Post { hold, .. }
        | SpendStep::Unknown { hold }
        | SpendStep::Intent { hold, .. } => HoldId(hold.clone()),
    };
    if ledger.parent_of(&hold).await?.as_deref() != Some(reservation.as_str()) {
        return Err(refused("not-this-tasks-hold", format!("hold {} is not one of task {}'s", hold.0, lease.task)));
    }
    match step {
        SpendStep::Void { key, .. } => ledger.void(&hold, &scoped(key)).await.map(drop)?,
        SpendStep::Post { charge, cost, vendor_id, review, key, .. } => ledger
            .post_reviewed(
                &hold,
                Credits(*charge),
                Credits(*cost),
                vendor_id.as_deref(),
                review.as_deref(),
                &scoped(key),
            )
            .await
            .map(drop)?,
        SpendStep::Unknown { .. } => ledger.mark_unknown(&hold).await?,
        SpendStep::Intent { vendor_id, .. } => ledger.record_intent(&hold, vendor_id.as_deref()).await?,
        SpendStep::Hold { .. } => {}
    }
    Ok(Spent { hold: None })
}
