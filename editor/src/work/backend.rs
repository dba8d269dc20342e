//! The engine side of the editor: a background tokio runtime that takes typed requests
//! (check, run, cancel, balance) and sends typed replies back. The UI never waits on it.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::{Outbox, Reply, Request, Settings};
use super::quote::quote;
use super::run::run;

/// Requests the UI may queue at once; a full queue drops a check, never a run or cancel.
const REQUEST_QUEUE: usize = 64;

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
            let out = Outbox::new(reply_tx, Arc::new(wake));
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

async fn serve(settings: Arc<Settings>, mut requests: mpsc::Receiver<Request>, out: Outbox) {
    let mut running: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    let executor = super::run::shared_executor();
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
            Request::Balance => out.send(Reply::Balance(super::run::balance(settings.wallet.as_ref()).await)),
        }
    }
    if let Some((cancel, task)) = running {
        cancel.cancel();
        let _ = task.await;
    }
}
