//! The engine side of the editor: a background tokio runtime that takes typed requests
//! (check, run, cancel, balance, connect) and sends typed replies back; connected to a
//! server, checks, runs and balances go there. The UI never waits on it.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::{Check, CheckResult, Outbox, Reply, Request, Settings};
use super::quote::quote;
use super::remote::{self, Remote};
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

/// A check on a server: validated here (the same node types), quoted there.
async fn check_on(settings: &Arc<Settings>, remote: &Remote, check: Check) -> CheckResult {
    let s = Arc::clone(settings);
    let c = check.clone();
    match tokio::task::spawn_blocking(move || super::quote::compile(&s, &c)).await {
        Ok(Err(problems)) => return CheckResult { problems, quote: None },
        Err(e) => return CheckResult { problems: Vec::new(), quote: Some(Err(format!("the check failed: {e}"))) },
        Ok(Ok(_)) => {}
    }
    CheckResult { problems: Vec::new(), quote: Some(remote::quote(remote, &check).await) }
}

/// Of several queued checks only the newest is worth doing; a request of another kind behind
/// them is held for next, never dropped (dropping one left a check unanswered for ever).
fn newest_check(mut request: Request, requests: &mut mpsc::Receiver<Request>, held: &mut Option<Request>) -> Request {
    while let Request::Check(_) = request {
        match requests.try_recv() {
            Ok(next @ Request::Check(_)) => request = next,
            Ok(other) => {
                *held = Some(other);
                break;
            }
            Err(_) => break,
        }
    }
    request
}

async fn serve(settings: Arc<Settings>, mut requests: mpsc::Receiver<Request>, out: Outbox) {
    let mut running: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    let executor = super::run::shared_executor();
    let mut remote: Option<Arc<Remote>> = None;
    let mut held: Option<Request> = None;
    loop {
        let request = match held.take() {
            Some(r) => r,
            None => match requests.recv().await {
                Some(r) => r,
                None => break,
            },
        };
        let request = newest_check(request, &mut requests, &mut held);
        match request {
            Request::Check(check) => {
                let rev = check.rev;
                let result = match &remote {
                    Some(r) => check_on(&settings, r, check).await,
                    None => {
                        let s = Arc::clone(&settings);
                        let result = tokio::task::spawn_blocking(move || quote(&s, &check)).await;
                        result.unwrap_or_else(|e| CheckResult {
                            problems: Vec::new(),
                            quote: Some(Err(format!("the check failed: {e}"))),
                        })
                    }
                };
                out.send(Reply::Checked { rev, result });
            }
            Request::Run(check) => {
                if running.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                    out.send(Reply::Refused("a run is already going; cancel it first".into()));
                    continue;
                }
                let cancel = CancellationToken::new();
                let task = match &remote {
                    Some(r) => tokio::spawn(remote::run(Arc::clone(r), check, cancel.clone(), out.clone())),
                    None => tokio::spawn(run(
                        Arc::clone(&settings),
                        Arc::clone(&executor),
                        check,
                        cancel.clone(),
                        out.clone(),
                    )),
                };
                running = Some((cancel, task));
            }
            Request::Cancel => {
                if let Some((cancel, _)) = &running {
                    cancel.cancel();
                }
            }
            Request::Balance => out.send(Reply::Balance(match &remote {
                Some(r) => remote::balance(r).await,
                None => super::run::balance(settings.wallet.as_ref()).await,
            })),
            Request::Connect(target) => match remote::connect(target).await {
                Ok((r, what)) => {
                    remote = Some(Arc::new(r));
                    out.send(Reply::Connected(Ok(what)));
                }
                Err(why) => out.send(Reply::Connected(Err(why))),
            },
            Request::Disconnect => {
                remote = None;
                out.send(Reply::Connected(Err("runs are local".into())));
            }
            Request::Library(ask) => match &remote {
                Some(r) => out.send(Reply::Library(super::library::serve(r, ask).await)),
                None => out.send(Reply::Library(super::library::not_connected(ask))),
            },
        }
    }
    if let Some((cancel, task)) = running {
        cancel.cancel();
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rev: u64) -> Request {
        let text = r#"{"format": "switchyard.workflow", "version": 1, "nodes": {}}"#;
        let file = serde_json::from_str(text).expect("an empty workflow");
        let check = super::super::Check {
            rev,
            file,
            input_root: ".".into(),
            policy: "cheapest".into(),
            budget: None,
            deadline: None,
            routes: Vec::new(),
        };
        Request::Check(check)
    }

    fn rev(r: &Request) -> Option<u64> {
        match r {
            Request::Check(c) => Some(c.rev),
            _ => None,
        }
    }

    #[test]
    fn a_request_queued_behind_checks_is_held_for_next_never_dropped() {
        let (tx, mut rx) = mpsc::channel(8);
        for r in [check(2), check(3), Request::Balance, check(4)] {
            tx.try_send(r).unwrap();
        }
        let mut held = None;
        let first = newest_check(check(1), &mut rx, &mut held);
        assert_eq!(rev(&first), Some(3), "the newest check before the balance");
        assert!(matches!(held, Some(Request::Balance)), "the balance is kept for next");
        let mut later = None;
        let next = newest_check(rx.try_recv().unwrap(), &mut rx, &mut later);
        assert_eq!((rev(&next), later.is_none()), (Some(4), true));
    }
}
