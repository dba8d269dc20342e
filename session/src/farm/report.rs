//! Reporting how a worker's tasks ended: one reporter for all its slots puts the tasks that
//! end together in one transaction, and each report is tried again while the farm's
//! database (or its server) is away, for as long as a lease lasts.

use std::time::Duration;

use switchyard_farm::{Completion, FarmError, Lease, Outcome, Output};

use super::link::Link;

/// How long to wait before trying an unanswering database again.
pub(super) const DB_RETRY_MS: u64 = 500;

/// Reports how a task ended, trying again while the database is away, for as long as a
/// lease lasts: after that the lease is gone anyway, and the report would be refused.
pub(super) async fn report(
    reporter: &Reporter,
    lease: &Lease,
    outcome: &Outcome,
    outputs: &[Output],
    lease_ms: i64,
) -> Result<(), FarmError> {
    let until = std::time::Instant::now() + Duration::from_millis(lease_ms.max(0) as u64);
    loop {
        let ended = Completion { lease: lease.clone(), outcome: outcome.clone(), outputs: outputs.to_vec() };
        match reporter.report(ended).await {
            Err(e) if database_away(&e) && std::time::Instant::now() < until => {
                tracing::warn!(task = lease.task, error = %e, "cannot report the task yet; retrying");
                tokio::time::sleep(Duration::from_millis(DB_RETRY_MS)).await;
            }
            ended => return ended,
        }
    }
}

/// The most completions reported in one transaction.
const REPORT_BATCH_MAX: usize = 64;

/// Reports ended tasks for a worker's slots: those that end together go in one transaction
/// (one commit instead of one each), each answered on its own.
#[derive(Clone)]
pub(super) struct Reporter {
    queue: tokio::sync::mpsc::Sender<(Completion, Answer)>,
}

/// Where one report's answer goes.
type Answer = tokio::sync::oneshot::Sender<Result<(), FarmError>>;

impl Reporter {
    /// Starts the reporting task; it ends when every handle is dropped.
    pub(super) fn start(link: Link) -> Self {
        let (queue, mut ended) = tokio::sync::mpsc::channel(REPORT_BATCH_MAX);
        tokio::spawn(async move {
            while let Some(first) = ended.recv().await {
                let mut batch = vec![first];
                while batch.len() < REPORT_BATCH_MAX {
                    match ended.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let (completions, replies): (Vec<Completion>, Vec<Answer>) = batch.into_iter().unzip();
                match link.complete_many(&completions).await {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(result);
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        let away = database_away(&e);
                        for reply in replies {
                            let again = if away {
                                FarmError::Unreachable(why.clone())
                            } else {
                                FarmError::Refused(why.clone())
                            };
                            let _ = reply.send(Err(again));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Reports one ended task and waits for its answer.
    pub(super) async fn report(&self, ended: Completion) -> Result<(), FarmError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || FarmError::Unreachable("the worker's reporter stopped".into());
        self.queue.send((ended, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Whether the farm's database (its own statements or the ledger's), or its server, did not
/// answer.
fn database_away(e: &FarmError) -> bool {
    use switchyard_ledger::LedgerError as L;
    matches!(
        e,
        FarmError::Database(_) | FarmError::Unreachable(_) | FarmError::Ledger(L::Database(_) | L::Unreachable(_))
    )
}
