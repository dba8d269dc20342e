//! The worker protocol over HTTP: what a worker that joins through the server's URL (with a
//! worker key) sends and gets back. Each call about a task names it by its lease
//! ([`TaskRef`]); the server looks the lease up and refuses a lost one, as the database does
//! for a worker that reaches it.

use serde::{Deserialize, Serialize};

use crate::dispatch::Output;
use crate::queue::{Lease, Outcome};
use crate::runs::RunBilling;
use crate::workers::Worker;

/// A task by its lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    /// The task.
    pub task: i64,
    /// Its lease's token.
    pub token: String,
}

impl From<&Lease> for TaskRef {
    fn from(lease: &Lease) -> Self {
        Self { task: lease.task, token: lease.token.clone() }
    }
}

/// `POST /v1/farm/work/heartbeat` and the worker's name elsewhere.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerRef {
    /// The worker's id.
    pub worker: String,
}

/// Whether the farm knows the worker (else it registers again).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Known {
    /// It is registered.
    pub known: bool,
}

/// `POST /v1/farm/work/claim`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Who claims, with what it offers now.
    pub worker: Worker,
    /// Tasks wanted, at most.
    pub n: u32,
    /// How long each lease lasts unless renewed.
    pub lease_ms: i64,
}

/// The leases a claim took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Leases {
    /// One per task claimed.
    pub leases: Vec<Lease>,
}

/// `POST /v1/farm/work/renew`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// The lease.
    pub lease: TaskRef,
    /// For how long from now.
    pub lease_ms: i64,
}

/// When a renewed lease runs out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Renewed {
    /// Unix ms.
    pub expires_at_ms: i64,
}

/// `POST /v1/farm/work/lost`: which of a worker's tasks it no longer holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostRequest {
    /// The worker.
    pub worker: String,
    /// The tasks it runs.
    pub tasks: Vec<i64>,
}

/// Tasks by id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskIds {
    /// The tasks.
    pub tasks: Vec<i64>,
}

/// `POST /v1/farm/work/complete`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The lease.
    pub lease: TaskRef,
    /// How the task ended.
    pub outcome: Outcome,
    /// The files it wrote, already uploaded by hash.
    pub outputs: Vec<Output>,
}

/// What a remote worker needs to run a leased task: the run without the server's paths, and
/// the task's frames by content hash (fetched only when the worker lacks them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskView {
    /// The workflow file's text.
    pub workflow: String,
    /// `node.param` each frame binds to.
    pub bind: String,
    /// `node.param=value` overrides for every frame.
    pub overrides: Vec<String>,
    /// Who pays, for billed runs.
    pub billing: Option<RunBilling>,
    /// The task's frames, in order.
    pub items: Vec<TaskItem>,
}

/// One frame of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskItem {
    /// Its name (`{item}` in output paths).
    pub name: String,
    /// Its file's name, for its extension.
    pub file: String,
    /// Its content's BLAKE3 hash.
    pub hash: String,
    /// Its size.
    pub bytes: u64,
}

/// `POST /v1/farm/work/preview`: a task's latest preview.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The lease.
    pub lease: TaskRef,
    /// The frame it shows.
    pub item: Option<String>,
    /// The node.
    pub node: String,
    /// Its output port.
    pub port: String,
    /// The preview's size.
    pub width: i32,
    /// Its height.
    pub height: i32,
    /// The previewed image's size.
    pub source_width: i32,
    /// Its height.
    pub source_height: i32,
    /// The PNG, base64.
    pub png_base64: String,
}

/// `POST /v1/farm/work/spend`: a ledger step of a paid call in a leased task. The server
/// takes it with the task's wallet and reservation; the worker names neither.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendRequest {
    /// The lease.
    pub lease: TaskRef,
    /// The step.
    pub step: SpendStep,
}

/// One ledger step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SpendStep {
    /// Reserve a call's most from the task's reservation.
    Hold {
        /// Credits.
        amount: i64,
        /// How long the hold lives.
        timeout_ms: i64,
        /// The audit trail's run (the task's attempt).
        run_id: String,
        /// The node (with its frame).
        node: String,
        /// The provider.
        provider: String,
        /// The idempotency key.
        key: String,
    },
    /// Release a hold whose call was never taken.
    Void {
        /// The hold.
        hold: String,
        /// The idempotency key.
        key: String,
    },
    /// Post a call's charge.
    Post {
        /// The hold.
        hold: String,
        /// What the wallet pays.
        charge: i64,
        /// What the provider bills.
        cost: i64,
        /// The provider's id for the call.
        vendor_id: Option<String>,
        /// Why a person should review it.
        review: Option<String>,
        /// The idempotency key.
        key: String,
    },
    /// Leave a hold open for reconciliation.
    Unknown {
        /// The hold.
        hold: String,
    },
    /// The call is going out (with the provider's id once known).
    Intent {
        /// The hold.
        hold: String,
        /// The provider's id for the call.
        vendor_id: Option<String>,
    },
}

/// What a spend step made: the hold, for a hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spent {
    /// The new hold.
    pub hold: Option<String>,
}
