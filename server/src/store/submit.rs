//! Group commit for submissions, and each lane's turns (fair share).

use tokio::sync::{mpsc, oneshot};

use super::{RunRow, Store};
use crate::ServerError;

/// Submissions waiting for the writer, at most.
const SUBMIT_QUEUE: usize = 4096;
/// Submissions committed together, at most.
const SUBMIT_BATCH: usize = 512;

/// A submission waiting for the writer.
struct Pending {
    run: RunRow,
    key: Option<String>,
    reply: oneshot::Sender<Result<Option<RunRow>, String>>,
}

/// Group commit for submissions: concurrent submits are written by one task, as many as are
/// waiting in one transaction, so a burst costs one durable commit instead of one each (and
/// SQLite's writers never wait on each other's locks).
pub(crate) struct Submitter {
    queue: mpsc::Sender<Pending>,
}

impl Submitter {
    pub(crate) fn start(store: Store) -> Self {
        let (queue, mut waiting) = mpsc::channel::<Pending>(SUBMIT_QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(SUBMIT_BATCH);
            while waiting.recv_many(&mut batch, SUBMIT_BATCH).await > 0 {
                match store.submit_many(&batch).await {
                    Ok(outcomes) => {
                        for (p, outcome) in batch.drain(..).zip(outcomes) {
                            let _ = p.reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        for p in batch.drain(..) {
                            let _ = p.reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queues `run` under the tenant's idempotency `key`: `None` when it was inserted, or
    /// the run that key already made.
    pub(crate) async fn submit(&self, run: RunRow, key: Option<String>) -> Result<Option<RunRow>, ServerError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ServerError::Invalid("the server is stopping".into());
        self.queue.send(Pending { run, key, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(ServerError::Invalid)
    }
}

impl Store {
    /// Gives each run its lane's next turn: one statement per lane in the batch, however
    /// many of its runs the batch holds.
    async fn take_turns(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        runs: &[Pending],
    ) -> Result<Vec<i64>, ServerError> {
        let floor: i64 = sqlx::query_scalar::<_, Option<i64>>("SELECT MIN(turn) FROM runs WHERE state = 'queued'")
            .fetch_one(&mut **tx)
            .await?
            .unwrap_or(0);
        let lane = |p: &Pending| (p.run.tenant.clone(), p.run.account.clone().unwrap_or_default());
        let mut counts: std::collections::BTreeMap<(String, String), i64> = Default::default();
        for p in runs {
            *counts.entry(lane(p)).or_default() += 1;
        }
        let mut next = std::collections::BTreeMap::new();
        for ((tenant, account), k) in counts {
            let last: i64 = sqlx::query_scalar(
                "INSERT INTO lanes (tenant, account, last_turn) VALUES ($1, $2, $3) ON CONFLICT (tenant, account) \
                 DO UPDATE SET last_turn = CASE WHEN lanes.last_turn + $4 > $5 THEN lanes.last_turn + $6 ELSE $7 END \
                 RETURNING last_turn",
            )
            .bind(&tenant)
            .bind(&account)
            .bind(floor + k - 1)
            .bind(k)
            .bind(floor + k - 1)
            .bind(k)
            .bind(floor + k - 1)
            .fetch_one(&mut **tx)
            .await?;
            next.insert((tenant, account), last - k + 1);
        }
        Ok(runs
            .iter()
            .map(|p| {
                next.get_mut(&lane(p)).map_or(0, |t| {
                    *t += 1;
                    *t - 1
                })
            })
            .collect())
    }

    /// Inserts queued runs in one transaction (one durable commit for all of them). For
    /// each, `None` when inserted, or the run that the tenant's idempotency key already made
    /// (nothing inserted).
    async fn submit_many(&self, runs: &[Pending]) -> Result<Vec<Option<RunRow>>, ServerError> {
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(runs.len());
        let turns = self.take_turns(&mut tx, runs).await?;
        for (Pending { run, key, .. }, turn) in runs.iter().zip(turns) {
            let done = sqlx::query(
                "INSERT INTO runs (id, tenant, state, tier, priority, account, member, budget, policy, workflow, \
                 overrides, idempotency_key, request_hash, quote_min, quote_max, submitted_at_ms, turn, lane, \
                 not_before_ms, price_at_s, routes, template, revision) \
                 VALUES ($1, $2, CASE WHEN $3 = 'scheduled' THEN 'scheduled' \
                 WHEN (SELECT paused FROM tenants WHERE id = $4) = 1 THEN 'paused' ELSE 'queued' END, \
                 $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) \
                 ON CONFLICT (tenant, idempotency_key) DO NOTHING",
            )
            .bind(&run.id)
            .bind(&run.tenant)
            .bind(&run.state)
            .bind(&run.tenant)
            .bind(run.tier)
            .bind(run.priority)
            .bind(&run.account)
            .bind(&run.member)
            .bind(run.budget)
            .bind(&run.policy)
            .bind(&run.workflow)
            .bind(&run.overrides)
            .bind(key.as_deref())
            .bind(&run.request_hash)
            .bind(run.quote_min)
            .bind(run.quote_max)
            .bind(run.submitted_at_ms)
            .bind(turn)
            .bind(&run.lane)
            .bind(run.not_before_ms)
            .bind(run.price_at_s)
            .bind(&run.routes)
            .bind(&run.template)
            .bind(&run.revision)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                out.push(None);
                continue;
            }
            // Not inserted: the key is taken (a key is never NULL here).
            let key = key.as_deref().unwrap_or_default();
            out.push(super::run_by_key(&mut *tx, &run.tenant, key).await?);
        }
        tx.commit().await?;
        Ok(out)
    }
}
