//! The typed messages between the UI and the background work: what the UI asks for, what
//! comes back, and the values they carry. Both sides depend on these; neither on the other.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use switchyard_engine::format::WorkflowFile;
use switchyard_engine::{Diagnostic, Event, NodeStatus, Registry, RunStatus};
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::catalog::Catalog;

use switchyard_session::placement::PlacementOptions;

use switchyard_nodes::preview::Preview;

/// What the UI asks for.
#[derive(Debug)]
pub enum Request {
    /// Validate and quote the graph at revision `rev` under `policy`.
    Check(Check),
    /// Run the graph (already checked by the UI's last quote).
    Run(Check),
    /// Stop the current run.
    Cancel,
    /// Read the wallet's balance.
    Balance,
    /// Quote, run and bill on a server from now on.
    Connect(super::remote::ServerTarget),
    /// Quote, run and bill here again.
    Disconnect,
    /// The team library, on the connected server.
    Library(super::library::LibraryAsk),
}

/// A graph to check or run.
#[derive(Clone, Debug)]
pub struct Check {
    /// The document revision it was taken at.
    pub rev: u64,
    /// The graph as its file.
    pub file: WorkflowFile,
    /// Where its input paths resolve.
    pub input_root: PathBuf,
    /// The placement policy, as `--policy` takes it.
    pub policy: String,
    /// The most the run may spend, in credits.
    pub budget: Option<i64>,
    /// The deadline of the file's run settings (`5m`), over the launch flags'.
    pub deadline: Option<String>,
    /// The routes of the file's run settings, over the launch flags'.
    pub routes: Vec<String>,
}

/// What comes back.
#[derive(Debug)]
pub enum Reply {
    /// The check of revision `rev`: every diagnostic, and the quote of what could be placed.
    Checked {
        /// The revision checked.
        rev: u64,
        /// Diagnostics, and the quote of the nodes they are not about.
        result: CheckResult,
    },
    /// A node's state changed during a run.
    Event(Event),
    /// The run ended.
    Finished(Box<Finished>),
    /// The run never started, and why.
    Refused(String),
    /// The wallet's available credits, or why they are unknown.
    Balance(Result<i64, String>),
    /// Where runs go now: `Ok(what)` on a server, `Err(why)` here (the connection failed,
    /// or the editor disconnected).
    Connected(Result<String, String>),
    /// What the team library answered.
    Library(super::library::LibraryReply),
}

/// What the backend runs with.
pub struct Settings {
    /// The node types.
    pub registry: Registry,
    /// Providers and prices.
    pub catalog: Arc<Catalog>,
    /// Where local models are found.
    pub onnx: OnnxSettings,
    /// Output folder for runs.
    pub out_dir: PathBuf,
    /// The wallet runs spend from, if any.
    pub wallet: Option<Wallet>,
    /// Local model fits, probed once.
    pub local_fits: LocalFits,
    /// Placement beyond the policy picker: the time prices are taken at (surge windows
    /// depend on it), a deadline, routes and licences, as the command line's flags give them.
    pub placement: PlacementOptions,
    /// Where inputs may be read from (the settings file's `[inputs]`).
    pub inputs: switchyard_engine::InputRoots,
}

/// One node's badge: where it runs, what it costs, its carbon.
#[derive(Clone, Debug, PartialEq)]
pub struct Badge {
    /// `local`, or `provider:model@region` (with the route).
    pub placement: String,
    /// Credits, least and most.
    pub credits: (i64, i64),
    /// Estimated gCO2eq.
    pub gco2eq: f64,
    /// Why the policy chose it.
    pub why: String,
    /// Paid for before: the kept result is reused, at 0 cr.
    pub cached: bool,
}

/// A check's outcome: one bad node does not silence the others' badges.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckResult {
    /// Validation problems, each on its node where it has one.
    pub problems: Vec<Diagnostic>,
    /// The quote of the nodes that validate (all of them when there are no problems), or
    /// why nothing could be quoted.
    pub quote: Option<Result<GraphQuote, String>>,
}

/// A placed graph's quote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphQuote {
    /// Badges of cloud-capable nodes by node key.
    pub nodes: HashMap<String, Badge>,
    /// Nodes that cannot be placed, with why; only these show an error.
    pub node_errors: HashMap<String, String>,
    /// Why the graph as a whole cannot run as placed (Run stays off), when it cannot.
    pub blocked: Option<String>,
    /// Credits for the whole graph, least and most.
    pub credits: (i64, i64),
    /// The graph's estimated gCO2eq.
    pub gco2eq: f64,
    /// Typical seconds for the whole graph.
    pub makespan_s: f64,
}

/// Local model fits by manifest, probed once per editor session (the probe reads the
/// machine and loads the runtime).
#[derive(Debug, Default)]
pub struct LocalFits(pub(super) Mutex<HashMap<String, Result<f64, String>>>);

/// The wallet a run spends from.
#[derive(Clone, Debug)]
pub struct Wallet {
    /// The ledger: a SQLite file or a PostgreSQL database.
    pub ledger: switchyard_session::wallet::Location,
    /// The wallet's name.
    pub account: String,
    /// The team member spending from a pool wallet, within their monthly cap.
    pub member: Option<String>,
}

/// How a run ended, node by node.
#[derive(Debug)]
pub struct Finished {
    /// The whole run.
    pub status: RunStatus,
    /// Wall time.
    pub duration_ms: u64,
    /// Each node's key, status and error.
    pub nodes: Vec<(String, NodeStatus, Option<String>)>,
    /// Small pictures of each node's first image or mask output.
    pub previews: Vec<(String, Preview)>,
    /// Credits charged, when billed.
    pub charged: Option<i64>,
}

/// Sends replies and wakes the UI.
#[derive(Clone)]
pub struct Outbox {
    tx: std_mpsc::Sender<Reply>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Outbox {
    /// Replies go to `tx`, and `wake` is called after each.
    pub fn new(tx: std_mpsc::Sender<Reply>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self { tx, wake }
    }

    /// Sends one reply; a closed UI is not an error.
    pub fn send(&self, reply: Reply) {
        let _ = self.tx.send(reply);
        (self.wake)();
    }
}

/// Whether a finished run succeeded, in words for the status bar.
pub fn run_status_text(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "run finished",
        RunStatus::Failed => "run failed",
        RunStatus::Cancelled => "run cancelled",
    }
}
