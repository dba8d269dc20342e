//! The render farm's task queue, on PostgreSQL: the single source of truth for tasks and
//! their leases (and, in the same database, the ledger).
//!
//! - `split.rs`: the splitting rule, a run's batch items into tasks.
//! - `queue.rs`: tasks added, claimed (`FOR UPDATE SKIP LOCKED`), renewed, completed and
//!   reaped, each lease under a token that a lost lease can never complete with.
//! - `workers.rs`: workers' capabilities and heartbeats, draining, tasks' host requirements
//!   and the blocklist.

mod artifacts;
mod dispatch;
pub use dispatch::{Completion, Output};
mod events;
mod queue;
mod runs;
mod split;
mod wire;
mod workers;

pub use artifacts::{ARTIFACT_MAX_BYTES, ArtifactError, Artifacts};
pub use events::{CHANNEL, FarmEvent, PREVIEW_MAX_BYTES, PREVIEWS, PreviewNote, StoredPreview, TaskEvent, Watch};
pub use queue::{Farm, FarmError, Lease, NewTask, Outcome, TaskRow};
pub use runs::{FarmRun, RunBilling, RunSummary};
pub use split::{Split, split};
pub use wire::{
    ClaimRequest, CompleteRequest, Known, Leases, LostRequest, PreviewRequest, RenewRequest, Renewed, SpendRequest,
    SpendStep, Spent, TaskIds, TaskItem, TaskRef, TaskView, WorkerRef,
};
pub use workers::{BLOCK_AFTER, Blocked, Requires, Worker, WorkerRow};

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
