//! Dispatch and settlement, where work and money change in one transaction (a ledger
//! [`SharedTx`]): a claim leases tasks and takes each billed task's reservation; a
//! completion, a reaped lease and a cancel end the task and close its reservation. Paid
//! calls in between carve their own holds from the reservation and post them as the
//! provider answers (keyed by run, item, node and attempt), so a worker that dies after a
//! paid call has still paid it exactly once.

use sqlx::AssertSqlSafe;
use switchyard_ledger::{Audit, Credits, HoldId, HoldRequest, LedgerError, SharedTx};

use crate::events::{TaskEvent, announce};
use crate::now_ms;
use crate::queue::{Farm, FarmError, Lease, Outcome};
use crate::workers::{BLOCK_AFTER, Worker};

/// How long a task's reservation lives before ledger recovery may release it: longer than
/// any task runs, since the farm closes it when the task ends or its lease is taken back.
const TASK_HOLD_MS: i64 = 24 * 3_600_000;

/// How long a preview nobody refreshed is kept.
const PREVIEW_KEEP_MS: i64 = 24 * 3_600_000;

/// A worker that heartbeat within this long is alive, for choosing who retries a task.
const ALIVE_MS: i64 = 30_000;

/// The most expired leases one reaper round takes back.
const REAP_MAX: i64 = 1000;

/// The advisory lock that makes one worker at a time the reaper.
const REAPER_LOCK: i64 = 0x5357_4641_524d_0001;

/// Leases the head of the waiting tasks that a worker meets the requirements of and is not
/// blocklisted for, each under a fresh token; with the run's billing, when it has any. A
/// task this worker failed before waits for another live worker that has not, while there
/// is one.
const CLAIM: &str = "WITH picked AS ( \
     SELECT id, run_id, row_number() OVER (ORDER BY priority DESC, id) AS k FROM ( \
         SELECT t.id, t.run_id, t.priority FROM farm_tasks t WHERE t.state = 'queued' \
         AND t.need_memory_gb <= $5 AND (t.need_gpu_brand IS NULL OR t.need_gpu_brand = ANY(CAST($6 AS TEXT)::text[])) \
         AND t.need_tags <@ CAST($7 AS TEXT)::text[] \
         AND NOT EXISTS (SELECT 1 FROM farm_blocklist b WHERE b.run_id = t.run_id AND b.worker = $3 \
             AND b.kind = t.kind AND b.failures >= $8) \
         AND EXISTS (SELECT 1 FROM farm_workers w WHERE w.id = $3 AND w.state = 'active') \
         AND (NOT ($3 = ANY(t.failed_by)) OR NOT EXISTS (SELECT 1 FROM farm_workers o WHERE o.state = 'active' \
             AND o.heartbeat_at_ms >= $9 AND NOT (o.id = ANY(t.failed_by)))) \
         ORDER BY t.priority DESC, t.id LIMIT $1 FOR UPDATE OF t SKIP LOCKED) head) \
 UPDATE farm_tasks t SET state = 'leased', lease_token = (CAST($2 AS TEXT)::text[])[picked.k], leased_by = $3, \
     lease_expires_at_ms = $4, attempts = t.attempts + 1, hold_id = NULL \
 FROM picked LEFT JOIN farm_runs r ON r.id = picked.run_id WHERE t.id = picked.id \
 RETURNING t.id AS task, t.lease_token AS token, t.run_id, t.seq, t.item_from, t.item_to, \
     t.attempts AS attempt, t.lease_expires_at_ms AS expires_at_ms, r.account, r.member, r.item_most, \
     r.budget_left IS NOT NULL AS budgeted";

/// A file a task wrote, kept in the artifact store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct Output {
    /// Its name under the run's output folder.
    pub name: String,
    /// The frame that wrote it.
    pub item: Option<String>,
    /// Its content's BLAKE3 hash (its key in the store).
    pub hash: String,
    /// Its size.
    pub bytes: i64,
}

/// How a held task ended, for [`Farm::complete_many`].
#[derive(Clone, Debug)]
pub struct Completion {
    /// The lease.
    pub lease: Lease,
    /// How it ended.
    pub outcome: Outcome,
    /// The files it wrote.
    pub outputs: Vec<Output>,
}

/// A completed task's run, worker, kind, reservation and new state.
type Ended = (String, Option<String>, String, Option<String>, String);

/// A claimed task with its run's billing.
#[derive(sqlx::FromRow)]
struct Claimed {
    task: i64,
    token: String,
    run_id: String,
    seq: i32,
    item_from: i32,
    item_to: i32,
    attempt: i32,
    expires_at_ms: i64,
    account: Option<String>,
    member: Option<String>,
    item_most: Option<i64>,
    budgeted: Option<bool>,
}

impl Claimed {
    fn lease(&self, hold: Option<String>) -> Lease {
        Lease {
            task: self.task,
            token: self.token.clone(),
            run_id: self.run_id.clone(),
            seq: self.seq,
            item_from: self.item_from,
            item_to: self.item_to,
            attempt: self.attempt,
            expires_at_ms: self.expires_at_ms,
            hold,
        }
    }

    /// What the task may cost at most: its items times the run's most per item.
    fn most(&self) -> i64 {
        let items = i64::from((self.item_to - self.item_from).max(0));
        items.saturating_mul(self.item_most.unwrap_or(0))
    }
}

/// A text array as PostgreSQL reads it (`{"a","b"}`), bound as text and cast in SQL.
pub(crate) fn pg_array(items: &[String]) -> String {
    let quoted: Vec<String> =
        items.iter().map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("{{{}}}", quoted.join(","))
}

impl Farm {
    /// Leases up to `n` waiting tasks (highest priority, then oldest) that `worker` meets the
    /// requirements of and is not blocklisted for, for `lease_ms`, each under a fresh token.
    /// A billed task's reservation (its items times the run's most per item) is taken from
    /// the run's wallet in the same transaction; a task the wallet or the run's budget
    /// cannot cover fails, with why, and nothing is charged. A draining or unregistered
    /// worker gets nothing.
    pub async fn claim(&self, worker: &Worker, n: u32, lease_ms: i64) -> Result<Vec<Lease>, FarmError> {
        let mut tx = self.ledger().begin_shared().await?;
        let claimed: Vec<Claimed> = claim_query(CLAIM, worker, n, lease_ms).fetch_all(tx.conn()).await?;
        let mut leases = Vec::with_capacity(claimed.len());
        let mut events = Vec::with_capacity(claimed.len());
        for c in &claimed {
            let (state, error) = match self.reserve(&mut tx, c).await? {
                Ok(hold) => {
                    leases.push(c.lease(hold));
                    ("leased", None)
                }
                Err(why) => {
                    refuse(&mut tx, c.task, &why).await?;
                    ("failed", Some(why))
                }
            };
            let worker = Some(worker.id.clone());
            events.push(TaskEvent { run: c.run_id.clone(), seq: c.seq, state: state.into(), worker, error });
        }
        announce(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(leases)
    }

    /// The plan PostgreSQL chooses for the claim statement (`EXPLAIN`, nothing executed), for
    /// the benchmark's report.
    pub async fn explain_claim(&self, worker: &Worker, n: u32) -> Result<Vec<String>, FarmError> {
        let sql = format!("EXPLAIN {CLAIM}");
        let mut tx = self.ledger().begin_shared().await?;
        let rows: Vec<(String,)> = claim_query(&sql, worker, n, 60_000).fetch_all(tx.conn()).await?;
        Ok(rows.into_iter().map(|(line,)| line).collect())
    }

    /// Takes a billed task's reservation within `tx`: `Ok(None)` for a task that spends
    /// nothing, `Err(why)` (and nothing taken) when the wallet or the budget falls short.
    async fn reserve(&self, tx: &mut SharedTx, c: &Claimed) -> Result<Result<Option<String>, String>, FarmError> {
        let (Some(account), most) = (&c.account, c.most()) else { return Ok(Ok(None)) };
        if most == 0 {
            return Ok(Ok(None));
        }
        let req = HoldRequest {
            wallet: account.clone(),
            amount: Credits(most),
            timeout_ms: TASK_HOLD_MS,
            audit: Audit {
                run_id: Some(c.run_id.clone()),
                node_id: Some(format!("task {}", c.seq)),
                ..Audit::default()
            },
            member: c.member.clone(),
            parent: None,
        };
        let key = format!("farm:{}:{}:{}", c.run_id, c.seq, c.attempt);
        // The ledger's rows, then the run's: every settlement locks in that order.
        sqlx::query("SAVEPOINT task_money").execute(tx.conn()).await?;
        let hold = match self.ledger().reserve_in(tx, &req, &key).await {
            Ok(hold) => hold,
            Err(e @ LedgerError::Database(_)) => return Err(e.into()),
            Err(e) => return Ok(Err(format!("task {} was not dispatched: {e}; nothing was charged", c.seq))),
        };
        if c.budgeted == Some(true) {
            let taken =
                sqlx::query("UPDATE farm_runs SET budget_left = budget_left - $2 WHERE id = $1 AND budget_left >= $2")
                    .bind(&c.run_id)
                    .bind(most)
                    .execute(tx.conn())
                    .await?;
            if taken.rows_affected() == 0 {
                sqlx::query("ROLLBACK TO SAVEPOINT task_money").execute(tx.conn()).await?;
                let left: Option<i64> = sqlx::query_scalar("SELECT budget_left FROM farm_runs WHERE id = $1")
                    .bind(&c.run_id)
                    .fetch_one(tx.conn())
                    .await?;
                let left = left.unwrap_or(0);
                return Ok(Err(format!(
                    "task {} needs up to {most} cr but the run's budget has {left} cr left; nothing was charged",
                    c.seq
                )));
            }
        }
        sqlx::query("RELEASE SAVEPOINT task_money").execute(tx.conn()).await?;
        sqlx::query("UPDATE farm_tasks SET hold_id = $1 WHERE id = $2")
            .bind(&hold.0)
            .bind(c.task)
            .execute(tx.conn())
            .await?;
        Ok(Ok(Some(hold.0)))
    }

    /// Closes a task's reservation within `tx` and gives what it released back to its run's
    /// budget.
    async fn settle(&self, tx: &mut SharedTx, run_id: &str, hold: &str) -> Result<(), FarmError> {
        let closed = self.ledger().close_in(tx, &HoldId(hold.to_string())).await?;
        if closed.released.0 > 0 {
            sqlx::query(
                "UPDATE farm_runs SET budget_left = budget_left + $2 WHERE id = $1 AND budget_left IS NOT NULL",
            )
            .bind(run_id)
            .bind(closed.released.0)
            .execute(tx.conn())
            .await?;
        }
        if closed.unknown > 0 {
            tracing::warn!(
                run = run_id,
                hold,
                unknown = closed.unknown,
                "paid calls of a lost task are left for reconciliation"
            );
        }
        Ok(())
    }

    /// Records how a held task ended and closes its reservation, in one transaction;
    /// `LeaseLost` (and nothing recorded) if the lease is not held any more. A failure goes
    /// back to the queue while attempts are left, and counts against the worker for that
    /// kind of task in that run (the blocklist); an interruption goes back uncounted.
    pub async fn complete(&self, lease: &Lease, outcome: &Outcome) -> Result<(), FarmError> {
        self.complete_with(lease, outcome, &[]).await
    }

    /// [`Farm::complete`], recording in the same transaction the files the task wrote (in
    /// the artifact store by hash), so a run's files are exactly those of completed tasks.
    pub async fn complete_with(&self, lease: &Lease, outcome: &Outcome, outputs: &[Output]) -> Result<(), FarmError> {
        let mut tx = self.ledger().begin_shared().await?;
        if !self.complete_in(&mut tx, lease, outcome, outputs).await? {
            return Err(FarmError::LeaseLost { task: lease.task });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Several completions in one transaction (a worker reports the tasks that ended
    /// together at once: one commit instead of one each). Each answers for itself: a lost
    /// lease is `LeaseLost` and records nothing, and does not hold up the others; a database
    /// failure fails them all, and nothing is recorded.
    pub async fn complete_many(&self, ended: &[Completion]) -> Result<Vec<Result<(), FarmError>>, FarmError> {
        let mut tx = self.ledger().begin_shared().await?;
        let mut results = Vec::with_capacity(ended.len());
        for c in ended {
            results.push(match self.complete_in(&mut tx, &c.lease, &c.outcome, &c.outputs).await? {
                true => Ok(()),
                false => Err(FarmError::LeaseLost { task: c.lease.task }),
            });
        }
        tx.commit().await?;
        Ok(results)
    }

    /// One completion's statements in `tx`; `false` when the lease is not held (nothing done).
    async fn complete_in(
        &self,
        tx: &mut SharedTx,
        lease: &Lease,
        outcome: &Outcome,
        outputs: &[Output],
    ) -> Result<bool, FarmError> {
        let retry = "CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END";
        let (state_sql, attempts_sql, error) = match outcome {
            Outcome::Done => ("'done'", "attempts", None),
            Outcome::Failed(why) | Outcome::OutOfMemory(why) => (retry, "attempts", Some(why)),
            Outcome::Interrupted(why) => ("'queued'", "attempts - 1", Some(why)),
        };
        let blame = matches!(outcome, Outcome::Failed(_));
        let failed_by = if blame { "array_append(failed_by, leased_by)" } else { "failed_by" };
        // Out of memory: from now on only a machine with more memory than this one, while a
        // live one exists.
        let memory = "(SELECT w.memory_gb FROM farm_workers w WHERE w.id = farm_tasks.leased_by)";
        let need_sql = match outcome {
            Outcome::OutOfMemory(_) => format!(
                "CASE WHEN EXISTS (SELECT 1 FROM farm_workers o WHERE o.state = 'active' AND o.heartbeat_at_ms >= $5 \
                 AND o.memory_gb > COALESCE({memory}, 0)) THEN GREATEST(need_memory_gb, COALESCE({memory}, 0) + 0.001) \
                 ELSE need_memory_gb END"
            ),
            _ => "need_memory_gb".to_string(),
        };
        let sql = format!(
            "UPDATE farm_tasks SET state = {state_sql}, attempts = {attempts_sql}, last_error = COALESCE($1, last_error), \
             failed_by = {failed_by}, need_memory_gb = {need_sql}, lease_token = NULL, lease_expires_at_ms = NULL, \
             finished_at_ms = $2 WHERE id = $3 AND lease_token = $4 AND state = 'leased' \
             RETURNING run_id, leased_by, kind, hold_id, state"
        );
        let mut query =
            sqlx::query_as(AssertSqlSafe(sql)).bind(error).bind(now_ms()).bind(lease.task).bind(&lease.token);
        if matches!(outcome, Outcome::OutOfMemory(_)) {
            query = query.bind(now_ms() - ALIVE_MS);
        }
        let ended: Option<Ended> = query.fetch_optional(tx.conn()).await?;
        let Some((run_id, worker, kind, hold, state)) = ended else { return Ok(false) };
        let event =
            TaskEvent { run: run_id.clone(), seq: lease.seq, state, worker: worker.clone(), error: error.cloned() };
        announce(tx, &[event]).await?;
        if let (true, Some(why), Some(worker)) = (blame, error, worker) {
            sqlx::query(
                "INSERT INTO farm_blocklist (run_id, worker, kind, failures, last_error) VALUES ($1, $2, $3, 1, $4) \
                 ON CONFLICT (run_id, worker, kind) DO UPDATE SET failures = farm_blocklist.failures + 1, \
                 last_error = excluded.last_error",
            )
            .bind(&run_id)
            .bind(&worker)
            .bind(&kind)
            .bind(why)
            .execute(tx.conn())
            .await?;
        }
        if let Some(hold) = hold {
            self.settle(tx, &run_id, &hold).await?;
        }
        for o in outputs {
            sqlx::query(
                "INSERT INTO farm_outputs (run_id, name, item, hash, bytes) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (run_id, name) DO UPDATE SET item = excluded.item, hash = excluded.hash, bytes = excluded.bytes",
            )
            .bind(&run_id)
            .bind(&o.name)
            .bind(&o.item)
            .bind(&o.hash)
            .bind(o.bytes)
            .execute(tx.conn())
            .await?;
        }
        Ok(true)
    }

    /// The files a run's completed tasks recorded, by name.
    pub async fn outputs(&self, run_id: &str) -> Result<Vec<Output>, FarmError> {
        Ok(sqlx::query_as("SELECT name, item, hash, bytes FROM farm_outputs WHERE run_id = $1 ORDER BY name")
            .bind(run_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Puts leases expired by `now` back in the queue (or fails their tasks when attempts
    /// are spent) and closes their reservations: a dead worker's paid calls that were
    /// posted stay posted, those that may have gone out stay unknown, the rest are voided.
    /// One caller at a time reaps (an advisory lock); the others return 0 at once. The reaper
    /// also drops previews nobody refreshed for a day. Returns how many leases it took back
    /// (at most a thousand a round).
    pub async fn reap(&self, now: i64) -> Result<u64, FarmError> {
        let mut tx = self.ledger().begin_shared().await?;
        let leader: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)").bind(REAPER_LOCK).fetch_one(tx.conn()).await?;
        if !leader {
            return Ok(0);
        }
        // Previews are live only: the leader drops those nobody has refreshed for a day.
        sqlx::query("DELETE FROM farm_previews WHERE at_ms < $1")
            .bind(now - PREVIEW_KEEP_MS)
            .execute(tx.conn())
            .await?;
        type Taken = (String, Option<String>, i32, String, Option<String>, Option<String>);
        let taken: Vec<Taken> = sqlx::query_as(
            "UPDATE farm_tasks SET state = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
             last_error = 'the worker stopped renewing its lease (lost or stalled)', lease_token = NULL, \
             lease_expires_at_ms = NULL WHERE id IN (SELECT id FROM farm_tasks WHERE state = 'leased' \
             AND lease_expires_at_ms <= $1 ORDER BY lease_expires_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING run_id, hold_id, seq, state, leased_by, last_error",
        )
        .bind(now)
        .bind(REAP_MAX)
        .fetch_all(tx.conn())
        .await?;
        let mut events = Vec::with_capacity(taken.len());
        for (run_id, hold, seq, state, worker, error) in taken {
            if let Some(hold) = &hold {
                self.settle(&mut tx, &run_id, hold).await?;
            }
            events.push(TaskEvent { run: run_id, seq, state, worker, error });
        }
        announce(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(events.len() as u64)
    }

    /// Cancels a run's tasks that have not ended and closes the reservations of those held,
    /// in one transaction: from then on no paid call of the run can take a hold, and the
    /// holders find their leases lost within a second. Returns how many tasks it cancelled.
    pub async fn cancel_run(&self, run_id: &str) -> Result<u64, FarmError> {
        self.stop_run(run_id, "cancelled").await
    }

    /// Pauses a run: its waiting tasks wait as `paused`, and its running ones are taken back
    /// (their workers stop them within a second; their attempts are not counted; their
    /// reservations close as a cancel's do), in one transaction. Returns how many tasks it
    /// paused.
    pub async fn pause_run(&self, run_id: &str) -> Result<u64, FarmError> {
        self.stop_run(run_id, "paused").await
    }

    /// Moves a run's waiting and running tasks to `to` (`cancelled`, or `paused`: then a
    /// running task's attempt is given back) and closes the running ones' reservations.
    async fn stop_run(&self, run_id: &str, to: &'static str) -> Result<u64, FarmError> {
        let attempts = match to {
            "paused" => "CASE WHEN hit.state = 'leased' THEN t.attempts - 1 ELSE t.attempts END",
            _ => "t.attempts",
        };
        let sql = format!(
            "WITH hit AS (SELECT id, state, hold_id FROM farm_tasks WHERE run_id = $1 \
                 AND state IN ('queued', 'leased') FOR UPDATE) \
             UPDATE farm_tasks t SET state = $2, lease_token = NULL, lease_expires_at_ms = NULL, attempts = {attempts} \
             FROM hit WHERE t.id = hit.id RETURNING hit.state, hit.hold_id, t.seq, t.leased_by"
        );
        let mut tx = self.ledger().begin_shared().await?;
        let hit: Vec<(String, Option<String>, i32, Option<String>)> =
            sqlx::query_as(AssertSqlSafe(sql)).bind(run_id).bind(to).fetch_all(tx.conn()).await?;
        let mut events = Vec::with_capacity(hit.len());
        for (state, hold, seq, worker) in &hit {
            if let (true, Some(hold)) = (state == "leased", hold) {
                self.settle(&mut tx, run_id, hold).await?;
            }
            let (run, state, worker) = (run_id.to_string(), to.to_string(), worker.clone());
            events.push(TaskEvent { run, seq: *seq, state, worker, error: None });
        }
        announce(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(hit.len() as u64)
    }
}

/// The claim statement `sql` (or its `EXPLAIN`) bound for `worker` taking up to `n` tasks.
fn claim_query<'q, O>(
    sql: &'q str,
    worker: &'q Worker,
    n: u32,
    lease_ms: i64,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    let tokens: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(i64::from(n))
        .bind(pg_array(&tokens))
        .bind(worker.id.as_str())
        .bind(now_ms() + lease_ms)
        .bind(worker.memory_gb)
        .bind(pg_array(&worker.gpu_brands))
        .bind(pg_array(&worker.tags))
        .bind(BLOCK_AFTER)
        .bind(now_ms() - ALIVE_MS)
}

impl Farm {
    /// Resumes a paused run: its paused tasks wait again. Returns how many.
    pub async fn resume_run(&self, run_id: &str) -> Result<u64, FarmError> {
        let mut tx = self.ledger().begin_shared().await?;
        let seqs: Vec<i32> = sqlx::query_scalar(
            "UPDATE farm_tasks SET state = 'queued' WHERE run_id = $1 AND state = 'paused' RETURNING seq",
        )
        .bind(run_id)
        .fetch_all(tx.conn())
        .await?;
        let events: Vec<TaskEvent> = seqs
            .iter()
            .map(|seq| TaskEvent { run: run_id.into(), seq: *seq, state: "queued".into(), worker: None, error: None })
            .collect();
        announce(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(seqs.len() as u64)
    }

    /// Sets the priority of a run's tasks that have not started (higher first). Returns how
    /// many it changed.
    pub async fn set_priority(&self, run_id: &str, priority: i64) -> Result<u64, FarmError> {
        let done =
            sqlx::query("UPDATE farm_tasks SET priority = $2 WHERE run_id = $1 AND state IN ('queued', 'paused')")
                .bind(run_id)
                .bind(priority)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }
}

/// Fails a claimed task that its wallet or budget cannot cover (its attempt not counted).
async fn refuse(tx: &mut SharedTx, task: i64, why: &str) -> Result<(), FarmError> {
    tracing::warn!(task, why, "a task was not dispatched");
    sqlx::query(
        "UPDATE farm_tasks SET state = 'failed', last_error = $1, lease_token = NULL, lease_expires_at_ms = NULL, \
         attempts = attempts - 1, finished_at_ms = $2 WHERE id = $3",
    )
    .bind(why)
    .bind(now_ms())
    .bind(task)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pg_array;

    #[test]
    fn text_arrays_are_quoted_for_postgres() {
        let cases: [(&[&str], &str); 4] = [
            (&[], "{}"),
            (&["nvidia"], "{\"nvidia\"}"),
            (&["a,b", "c"], "{\"a,b\",\"c\"}"),
            (&["say \"hi\"", "back\\slash"], "{\"say \\\"hi\\\"\",\"back\\\\slash\"}"),
        ];
        for (items, want) in cases {
            let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            assert_eq!(pg_array(&items), want);
        }
    }
}
