//! The API's messages as types, shared by the server and its clients (the CLI and the
//! editor), so neither reads the other's JSON back by string keys.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A run as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RunView {
    /// Its id (UUIDv7: ids sort by submission time).
    pub id: String,
    /// queued, paused, running, succeeded, failed or cancelled.
    pub state: String,
    /// The wallet's plan tier when it was submitted.
    pub tier: i64,
    /// Its priority within the tier.
    pub priority: i64,
    /// The tenant's account it bills, if any.
    pub account: Option<String>,
    /// The placement policy.
    pub policy: String,
    /// The quote, in credits.
    pub quote: Quote,
    /// When it was submitted, started and finished (unix ms).
    pub submitted_at_ms: i64,
    /// When its latest attempt started.
    pub started_at_ms: Option<i64>,
    /// When it ended.
    pub finished_at_ms: Option<i64>,
    /// How many times it was started.
    pub attempts: i64,
    /// The engine's report and the run's account in credits, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    /// Why it failed before running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// At submission: when it is expected to start (unix ms), an estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_start_ms: Option<i64>,
    /// `standard`, or `economy` (a node on the economy route: it runs on spare capacity).
    #[serde(default = "standard")]
    pub lane: String,
    /// An off-peak run does not start before this (unix ms), and is priced as of then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_ms: Option<i64>,
    /// At submission: the surge window raising the quote, if one is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surge: Option<Surge>,
    /// At submission: what a wait over `max_wait_s` switched the run to (`economy`,
    /// `cheaper`) or that it waits anyway (`wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_wait: Option<String>,
    /// The template it ran (`team/name@3`) and the exact revision hash that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// At submission: what the submitter should know (a deprecated template).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn standard() -> String {
    "standard".into()
}

/// A surge window in force: its name and what it multiplies prices by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Surge {
    /// Its name in the catalog (`us-peak`).
    pub window: String,
    /// The price factor (1.5).
    pub factor: f64,
}

impl RunView {
    /// Whether the run has ended.
    pub fn ended(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed" | "cancelled")
    }

    /// What the run charged, once it ended billed.
    pub fn charged(&self) -> Option<i64> {
        #[derive(Deserialize)]
        struct Summary {
            credits: Option<Credits>,
        }
        #[derive(Deserialize)]
        struct Credits {
            charged: Option<i64>,
        }
        let summary: Summary = serde_json::from_value(self.summary.clone()?).ok()?;
        summary.credits?.charged
    }
}

/// One problem with a submitted workflow (an `invalid-workflow` error's `details` lists
/// them): where, what, and how to fix it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// A stable kebab-case code, such as `unknown-node-type`.
    pub code: String,
    /// The node it concerns, if any.
    #[serde(default)]
    pub node: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(default)]
    pub help: Option<String>,
}

/// A quote's least and most credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Quote {
    /// The least it may cost.
    pub min: i64,
    /// The most it may cost.
    pub max: i64,
}

/// A run to submit.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The workflow, as a workflow file's JSON (absent when `template` names one).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub workflow: Value,
    /// A template of the key's team to run instead: `team/name@3`, or `@latest`. `set`
    /// may then set only the params it exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `node.param=value` overrides, as `switchyard run --set` takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    /// The placement policy (default cheapest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The most the run may spend, in credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<i64>,
    /// The tenant's account (wallet) to bill; unbilled without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The team member spending, within their cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Higher runs first within a plan tier, from -100 to 100.
    #[serde(default)]
    pub priority: i64,
    /// The longest the run should wait to start, in seconds; what happens past it is
    /// `on_wait`. It waits however long without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_s: Option<i64>,
    /// When the expected wait is over `max_wait_s`: `cancel` (the default: 503, nothing
    /// queued), `wait` anyway, switch to the `economy` route, or to a `cheaper` placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_wait: Option<String>,
    /// `now` (the default) or `off-peak`: wait for the catalog's next off-peak window and be
    /// priced at its discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Routes accepted where they win: `economy` (cheaper, slower; the run waits in the
    /// economy lane) and `green`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

/// A page of runs.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RunPage {
    /// Newest first.
    pub runs: Vec<RunView>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// An error reply's body: `{"error": {...}}`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, where, and how to fix it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// A stable kebab-case code.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Specifics, such as a workflow's diagnostics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// One message of `/v1/events`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EventMessage {
    /// Its sequence id (absent on `missed` and `lagged`).
    #[serde(default)]
    pub id: Option<u64>,
    /// When it happened (unix ms).
    #[serde(default)]
    pub at_ms: Option<i64>,
    /// The run.
    #[serde(default)]
    pub run: Option<String>,
    /// `run`, `node`, `preview` (with `previews=true`; live only, never replayed), `task` (a
    /// farm run's task: its `state`, `task`, `worker` and `message`), `missed` or `lagged`.
    pub kind: String,
    /// For `run`: `{state}`; for `node`: the engine's event (`node`, `event`, …).
    #[serde(default)]
    pub event: Option<EventBody>,
}

/// The body of a run or node event.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct EventBody {
    /// A run event's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// A node event's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// A node event's kind: queued, started, progress, cached, finished, failed, skipped…
    #[serde(default, rename = "event", skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    /// Progress done and in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// Progress in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Why a node failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why a node was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A finished node's wall time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// A preview's output port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// A preview's width and height in pixels (at most 256 a side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// A preview's height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The previewed image's width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_width: Option<u32>,
    /// The previewed image's height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_height: Option<u32>,
    /// A preview's media type (`image/png`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// A preview's bytes, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A farm task event's task (its index in the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<i32>,
    /// A farm task event's worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// A cancel's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CancelReply {
    /// The run.
    pub id: String,
    /// `cancelled`, `cancelling` (it was running), or the state it had already ended in.
    pub state: String,
}

/// A new priority for a waiting run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    /// From -100 to 100.
    pub priority: i64,
}

/// A priority set.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PriorityReply {
    /// The run.
    pub id: String,
    /// Its priority now.
    pub priority: i64,
}

/// Moves a waiting run within its account's own line (same tier and priority): to the
/// `front` or the `back`. Other accounts' turns are untouched, so fair share holds.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// `front` or `back`.
    pub to: String,
}

/// A move's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MoveReply {
    /// The run.
    pub id: String,
    /// The run it changed places with, if any (none when it was already there).
    pub swapped_with: Option<String>,
}

/// Whether the tenant's queue is paused.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct QueueReply {
    /// Paused: none of the tenant's runs starts.
    pub paused: bool,
}

/// One output file of a run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct OutputView {
    /// Its path under the run's output folder.
    pub name: String,
    /// Its blake3 hash.
    pub hash: String,
    /// Its size.
    pub bytes: i64,
    /// Its media type.
    pub media_type: String,
    /// Where to download it.
    pub url: String,
}

/// A run's outputs.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct OutputList {
    /// By name.
    pub outputs: Vec<OutputView>,
}

/// An upload, stored.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UploadReply {
    /// The path a workflow reads it by (`image.load`'s `path`).
    pub path: String,
    /// Its blake3 hash.
    pub hash: String,
    /// Its size.
    pub bytes: u64,
    /// Its media type.
    pub media_type: String,
}

/// A new API key for the caller's tenant.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// viewer, runner, editor, publisher, billing or admin.
    pub role: String,
    /// Makes it a team member's key: its runs spend as this member, within their cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// It stops working this many seconds from now; never, without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<i64>,
}

/// A key as listed: never its secret.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct KeyView {
    /// Its public id (the middle of the token; logs name keys by it).
    pub id: String,
    /// Its role.
    pub role: String,
    /// The team member it spends as, if any.
    #[serde(default)]
    pub member: Option<String>,
    /// When it was made (unix ms).
    pub created_at_ms: i64,
    /// When it stops working, if it does.
    pub expires_at_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<i64>,
}

/// A key just made: the token is shown this once and never stored.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct KeyCreated {
    /// The key.
    pub key: KeyView,
    /// The token to send as `Authorization: Bearer …`.
    pub token: String,
}

/// The tenant's keys.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct KeyList {
    /// Newest first.
    pub keys: Vec<KeyView>,
}

/// One of the tenant's wallets.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WalletView {
    /// The account's name on this server.
    pub account: String,
    /// Credits in unexpired lots, before holds.
    pub posted: i64,
    /// Credits reserved by open holds.
    pub held: i64,
    /// What can be held now.
    pub available: i64,
    /// Its plan, if it has one.
    pub plan: Option<String>,
    /// Its plan's queue tier (0 without a plan).
    pub tier: i64,
}

/// One movement of credits touching the wallet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TransferView {
    /// Its sequence number.
    pub id: i64,
    /// The account debited.
    pub debit: String,
    /// The account credited.
    pub credit: String,
    /// How much.
    pub amount: i64,
    /// Why: a grant's reason, `charge`, `grant_expired`…
    pub reason: String,
    /// The hold it settled, if any.
    pub hold_id: Option<String>,
    /// The run, node, provider and the provider's request id, for charges.
    pub run_id: Option<String>,
    /// The node.
    pub node_id: Option<String>,
    /// The provider.
    pub provider: Option<String>,
    /// The provider's request or task id.
    pub vendor_id: Option<String>,
    /// When (unix ms).
    pub created_at_ms: i64,
}

/// A wallet's audit trail, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TransferList {
    /// The transfers.
    pub transfers: Vec<TransferView>,
}

/// A hold on the wallet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct HoldView {
    /// Its id.
    pub id: String,
    /// What it reserved.
    pub amount: i64,
    /// pending, unknown, posted, voided, expired or released.
    pub state: String,
    /// What was charged.
    pub posted: i64,
    /// `call` (a paid call) or `run` (a run's reservation).
    pub kind: String,
    /// The run and node.
    pub run_id: Option<String>,
    /// The node.
    pub node_id: Option<String>,
    /// The provider.
    pub provider: Option<String>,
    /// The provider's request or task id.
    pub vendor_id: Option<String>,
}

/// A wallet's holds, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct HoldList {
    /// The holds.
    pub holds: Vec<HoldView>,
}

/// A quote without running: what the run would cost and where each node would run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct QuoteReply {
    /// The run's least and most credits.
    pub quote: Quote,
    /// About how much carbon (gCO2eq).
    pub gco2eq: f64,
    /// About how long, in seconds, at the most.
    pub makespan_s: f64,
    /// With an account: whether it fits the wallet, the budget and the member's cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
    /// With an account: why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Each placed node.
    pub nodes: Vec<NodeQuoteView>,
}

/// Where one node would run and what it would cost.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct NodeQuoteView {
    /// The node.
    pub node: String,
    /// `provider:model@region`.
    pub placement: String,
    /// Its least and most credits.
    pub credits: Quote,
    /// About how much carbon (gCO2eq).
    pub gco2eq: f64,
    /// Why this placement.
    pub why: String,
}

/// The node types this server runs, with their ports and params.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct NodeTypes {
    /// As `switchyard nodes --json` lists them.
    pub nodes: Vec<Value>,
}

/// The tenant's wallets.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AccountList {
    /// By name.
    pub accounts: Vec<WalletView>,
}

/// A plan's monthly grant to one of the tenant's accounts (made if new). Granting the same
/// plan twice in a month is a replay, never a second grant.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// A plan of the server's plans (`free`, `pro`, `team`, …).
    pub plan: String,
    /// Seats, for a per-seat plan.
    #[serde(default = "one")]
    pub seats: i64,
    /// The monthly credits of a custom plan (enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
}

fn one() -> i64 {
    1
}

/// A bought credit pack for one of the tenant's accounts (made if new), once per payment.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopupRequest {
    /// A pack of the server's plans.
    pub pack: String,
    /// The payment's id: a second top-up with it is a replay.
    pub payment_id: String,
}

/// Credits added to an account.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GrantReply {
    /// The account.
    pub account: String,
    /// The credits the lot holds.
    pub amount: i64,
    /// The lot's ledger account.
    pub lot: String,
    /// The wallet after it.
    pub wallet: WalletView,
}

/// A team member's monthly cap.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    /// Credits a month the member may spend from the account.
    pub cap: i64,
}

/// A team member of an account: their cap and use this month.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MemberView {
    /// The member.
    pub member: String,
    /// Credits a month.
    pub cap: i64,
    /// The month `spent` counts (`2026-11`).
    pub period: String,
    /// Charged this month.
    pub spent: i64,
    /// Reserved by open holds.
    pub held: i64,
}

/// An account's members.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MemberList {
    /// By name.
    pub members: Vec<MemberView>,
}

/// The server machine, as `switchyard doctor` reports a workstation.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DoctorReply {
    /// The server's version.
    pub version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Runs executed at once.
    pub workers: usize,
    /// The tenant's runs waiting (queued, paused or scheduled).
    pub queued: i64,
    /// The tenant's runs executing.
    pub running: i64,
    /// `ok`, or why the ledger cannot be opened.
    pub ledger: String,
    /// What the machine offers for local work: CPU, memory, graphics adapters, the ONNX
    /// Runtime and its execution providers, free disk for the cache (the shape of
    /// `switchyard doctor --json`'s `local`).
    pub machine: Value,
}

/// A batch run for the render farm: one workflow over many uploaded files.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FarmSubmitRequest {
    /// The workflow, as a workflow file's JSON (absent when `template` names one).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub workflow: Value,
    /// A template of the key's team to run instead: `team/name@3`, or `@latest`. `set`
    /// may then set only the params it exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The frames: upload paths (as `/v1/uploads` answers them), one batch item each, in order.
    pub files: Vec<String>,
    /// The frames' names, one per file, which `{item}` in output paths becomes (default: the
    /// uploads' names, their content hashes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// `node.param` each file's path binds to, such as `load.path`.
    pub bind: String,
    /// Frames a task (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    /// Attempts a task gets before it fails for good (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Higher runs' tasks first.
    #[serde(default)]
    pub priority: i64,
    /// `node.param=value` overrides for every frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    /// The tenant's account (wallet) that pays for paid calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The team member spending, within their cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The most the whole run may commit, in credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<i64>,
    /// The placement policy for paid nodes (default cheapest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// A farm run: its frames, its tasks and where they stand.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmRunView {
    /// Its id.
    pub id: String,
    /// `queued`, `running`, `done`, `failed` (some task failed for good) or `cancelled`.
    pub state: String,
    /// Its frames.
    pub frames: usize,
    /// The wallet it bills, if it makes paid calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The most one frame may cost, in credits.
    pub frame_most_credits: i64,
    /// Tasks by state.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Its tasks, in order.
    pub tasks: Vec<FarmTaskView>,
}

/// One task of a farm run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmTaskView {
    /// Its index in the run.
    pub task: i32,
    /// Its first frame.
    pub from: i32,
    /// One past its last frame.
    pub to: i32,
    /// `queued`, `leased`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The worker holding it, or that held it last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Why its last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A farm run's cancel: tasks that were still waiting or running.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmCancelReply {
    /// The run.
    pub id: String,
    /// Tasks cancelled.
    pub cancelled_tasks: u64,
}

/// The files a farm run wrote.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmFileList {
    /// By name.
    pub files: Vec<FarmFile>,
}

/// One file a farm run wrote.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmFile {
    /// Its name in the run's output folder.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Where to download it.
    pub url: String,
}

/// A page of farm runs.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmRunPage {
    /// Newest first.
    pub runs: Vec<FarmRunSummary>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A farm run as listed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FarmRunSummary {
    /// Its id.
    pub id: String,
    /// As in [`FarmRunView`].
    pub state: String,
    /// Its frames.
    pub frames: i64,
    /// The wallet it bills, if it makes paid calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Tasks by state.
    pub counts: std::collections::BTreeMap<String, u64>,
}
