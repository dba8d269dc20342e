//! The engine side of the editor: a background tokio runtime that takes typed requests
//! (check, run, cancel, balance) and sends typed replies back. The UI never waits on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use switchyard_catalog::Catalog;
use switchyard_engine::format::WorkflowFile;
use switchyard_engine::{Diagnostic, Event, Registry, RunStatus};
use switchyard_nodes::onnx::OnnxSettings;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::quote::{GraphQuote, quote};
use crate::run::{Finished, Wallet, run};

/// Requests the UI may queue at once; a full queue drops a check, never a run or cancel.
const REQUEST_QUEUE: usize = 64;

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
}

/// What comes back.
#[derive(Debug)]
pub enum Reply {
    /// The check of revision `rev`: every diagnostic, or the quote.
    Checked {
        /// The revision checked.
        rev: u64,
        /// Diagnostics, or the placed graph's quote (or why it cannot be placed).
        result: Result<Result<GraphQuote, String>, Vec<Diagnostic>>,
    },
    /// A node's state changed during a run.
    Event(Event),
    /// The run ended.
    Finished(Box<Finished>),
    /// The run never started, and why.
    Refused(String),
    /// The wallet's available credits, or why they are unknown.
    Balance(Result<i64, String>),
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
    pub local_fits: crate::quote::LocalFits,
    /// Quote as of this time (unix seconds) instead of now: surge windows depend on it.
    pub at_unix_s: Option<i64>,
}

/// The UI's handle: send requests, poll replies.
pub struct Backend {
    tx: mpsc::Sender<Request>,
    rx: std_mpsc::Receiver<Reply>,
    _thread: std::thread::JoinHandle<()>,
}

impl Backend {
    /// Starts the runtime thread; `wake` is called after each reply (egui's repaint).
    pub fn start(settings: Settings, wake: impl Fn() + Send + Sync + 'static) -> std::io::Result<Self> {
        let (tx, requests) = mpsc::channel(REQUEST_QUEUE);
        let (reply_tx, rx) = std_mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let thread = std::thread::Builder::new().name("switchyard-backend".into()).spawn(move || {
            let out = Outbox { tx: reply_tx, wake: Arc::new(wake) };
            runtime.block_on(serve(Arc::new(settings), requests, out));
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        })?;
        Ok(Self { tx, rx, _thread: thread })
    }

    /// Queues a request; `false` when the queue is full or the backend has stopped.
    pub fn send(&self, request: Request) -> bool {
        self.tx.try_send(request).is_ok()
    }

    /// The next reply, if one has come.
    pub fn poll(&self) -> Option<Reply> {
        self.rx.try_recv().ok()
    }
}

/// Sends replies and wakes the UI.
#[derive(Clone)]
pub struct Outbox {
    tx: std_mpsc::Sender<Reply>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Outbox {
    /// Sends one reply; a closed UI is not an error.
    pub fn send(&self, reply: Reply) {
        let _ = self.tx.send(reply);
        (self.wake)();
    }
}

async fn serve(settings: Arc<Settings>, mut requests: mpsc::Receiver<Request>, out: Outbox) {
    let mut running: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    let executor = crate::run::shared_executor();
    while let Some(mut request) = requests.recv().await {
        // Only the newest of several queued checks is worth doing.
        while let Request::Check(_) = request {
            match requests.try_recv() {
                Ok(next) => request = next,
                Err(_) => break,
            }
        }
        match request {
            Request::Check(check) => {
                let s = Arc::clone(&settings);
                let rev = check.rev;
                let result = tokio::task::spawn_blocking(move || quote(&s, &check)).await;
                let result = result.unwrap_or_else(|e| Ok(Err(format!("the check failed: {e}"))));
                out.send(Reply::Checked { rev, result });
            }
            Request::Run(check) => {
                if running.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                    out.send(Reply::Refused("a run is already going; cancel it first".into()));
                    continue;
                }
                let cancel = CancellationToken::new();
                let task =
                    tokio::spawn(run(Arc::clone(&settings), Arc::clone(&executor), check, cancel.clone(), out.clone()));
                running = Some((cancel, task));
            }
            Request::Cancel => {
                if let Some((cancel, _)) = &running {
                    cancel.cancel();
                }
            }
            Request::Balance => out.send(Reply::Balance(crate::run::balance(settings.wallet.as_ref()).await)),
        }
    }
    if let Some((cancel, task)) = running {
        cancel.cancel();
        let _ = task.await;
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
