//! Tasks and their leases. A claim takes the head of the waiting tasks with
//! `FOR UPDATE SKIP LOCKED` (concurrent claimers never wait on, or take, each other's rows)
//! and gives each task a fresh lease token; renewals and completions name the token, so
//! whoever lost a lease (a dead or stalled worker) finds nothing to renew or complete. The
//! reaper puts expired leases back in the queue, counting the attempt, until a task's
//! attempts run out.

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use switchyard_ledger::Ledger;

use crate::now_ms;
use crate::workers::Requires;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    /// The database failed.
    #[error("farm database: {0}")]
    Database(#[from] sqlx::Error),
    /// Its schema could not be brought up to date.
    #[error("farm database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The ledger refused or failed.
    #[error("farm ledger: {0}")]
    Ledger(#[from] switchyard_ledger::LedgerError),
    /// A stored row cannot be read back.
    #[error("farm database: {0}")]
    Corrupt(String),
    /// The lease is no longer this holder's: it expired and was re-queued (and perhaps
    /// claimed by another worker), or its run was cancelled. Stop the task; report nothing.
    #[error("task {task}: the lease was lost (expired, re-queued or cancelled); its result is not taken")]
    LeaseLost {
        /// The task.
        task: i64,
    },
    /// The farm's server (for a worker that joins through it) did not answer.
    #[error("the farm's server did not answer: {0}")]
    Unreachable(String),
    /// The farm's server refused the request.
    #[error("the farm's server refused: {0}")]
    Refused(String),
}

/// A task to add.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// Its index in the run.
    pub seq: u32,
    /// Its first batch item.
    pub from: u32,
    /// One past its last.
    pub to: u32,
    /// Higher first.
    pub priority: i64,
    /// Attempts before it fails for good.
    pub max_attempts: u32,
    /// What a worker needs to take it.
    pub requires: Requires,
    /// Its kind, for the blocklist (`graph`, or a node type for finer tasks).
    pub kind: String,
}

/// A task held by a worker.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    /// The task.
    pub task: i64,
    /// The lease: renewals and the completion must name it.
    pub token: String,
    /// The run.
    pub run_id: String,
    /// The task's index in the run.
    pub seq: i32,
    /// Its items, `[from, to)`.
    pub item_from: i32,
    /// One past its last item.
    pub item_to: i32,
    /// This is its attempt number (from 1).
    pub attempt: i32,
    /// When the lease runs out unless renewed (unix ms).
    pub expires_at_ms: i64,
    /// The task's reservation in the ledger, which its paid calls carve their holds from
    /// (billed runs only).
    pub hold: Option<String>,
}

/// How a leased task ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every item is done.
    Done,
    /// It failed: retried while it has attempts left.
    Failed(String),
    /// It could not run because a service it needs was unreachable (the database, for a
    /// while): back to the queue, its attempt not counted and no worker blamed.
    Interrupted(String),
    /// Its process was killed for want of memory: retried (attempt counted) and, where a
    /// live worker with more memory exists, only on such a worker; no worker blamed.
    OutOfMemory(String),
}

/// A task as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskRow {
    /// The task.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// Its index in the run.
    pub seq: i32,
    /// Its first batch item.
    pub item_from: i32,
    /// One past its last.
    pub item_to: i32,
    /// `queued`, `leased`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The worker holding it, or that held it last.
    pub leased_by: Option<String>,
    /// Why its last attempt failed.
    pub last_error: Option<String>,
}

/// The farm's queue.
#[derive(Clone)]
pub struct Farm {
    pool: PgPool,
    ledger: Ledger,
}

impl Farm {
    /// Connects to PostgreSQL at `url` (at most `connections` at once) and brings the
    /// farm's tables up to date beside whatever else the database holds.
    pub async fn connect(url: &str, connections: u32) -> Result<Self, FarmError> {
        let pool = PgPoolOptions::new().max_connections(connections).connect(url).await?;
        // The ledger first: the farm's money moves through it, in the farm's transactions.
        let ledger = Ledger::connect_postgres(url, connections).await?;
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self { pool, ledger })
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The ledger in the farm's database, which paid calls hold and post through.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Adds a run's tasks in one transaction (all or none).
    pub async fn add(&self, run_id: &str, tasks: &[NewTask]) -> Result<(), FarmError> {
        let mut tx = self.pool.begin().await?;
        self.add_in(&mut tx, run_id, tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a run's tasks within `tx`.
    pub(crate) async fn add_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        run_id: &str,
        tasks: &[NewTask],
    ) -> Result<(), FarmError> {
        let now = now_ms();
        for t in tasks {
            sqlx::query(
                "INSERT INTO farm_tasks (run_id, seq, item_from, item_to, priority, max_attempts, created_at_ms, \
                 need_memory_gb, need_gpu_brand, need_tags, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(run_id)
            .bind(t.seq as i32)
            .bind(t.from as i32)
            .bind(t.to as i32)
            .bind(t.priority)
            .bind(t.max_attempts.max(1) as i32)
            .bind(now)
            .bind(t.requires.memory_gb)
            .bind(&t.requires.gpu_brand)
            .bind(&t.requires.tags)
            .bind(&t.kind)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Extends a held lease by `lease_ms` from now; `LeaseLost` if it is not held any more.
    pub async fn renew(&self, lease: &Lease, lease_ms: i64) -> Result<i64, FarmError> {
        let until = now_ms() + lease_ms;
        let done = sqlx::query(
            "UPDATE farm_tasks SET lease_expires_at_ms = $1 WHERE id = $2 AND lease_token = $3 AND state = 'leased'",
        )
        .bind(until)
        .bind(lease.task)
        .bind(&lease.token)
        .execute(&self.pool)
        .await?;
        match done.rows_affected() {
            1 => Ok(until),
            _ => Err(FarmError::LeaseLost { task: lease.task }),
        }
    }

    /// The lease `token` holds on `task`, if it still does.
    pub async fn lease(&self, task: i64, token: &str) -> Result<Option<Lease>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT id AS task, lease_token AS token, run_id, seq, item_from, item_to, attempts AS attempt, \
             lease_expires_at_ms AS expires_at_ms, hold_id AS hold FROM farm_tasks \
             WHERE id = $1 AND lease_token = $2 AND state = 'leased'",
        )
        .bind(task)
        .bind(token)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Of `tasks`, those `worker` no longer holds (cancelled, taken back or reported): one
    /// query, so a worker can learn of a cancel within a second of it.
    pub async fn lost_leases(&self, worker: &str, tasks: &[i64]) -> Result<Vec<i64>, FarmError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT held.id FROM unnest($1::bigint[]) AS held(id) WHERE NOT EXISTS ( \
                 SELECT 1 FROM farm_tasks t WHERE t.id = held.id AND t.state = 'leased' AND t.leased_by = $2)",
        )
        .bind(tasks)
        .bind(worker)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Tasks by run and state: `(run, state, tasks)`, for `farm status`.
    pub async fn summary(&self) -> Result<Vec<(String, String, i64)>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT run_id, state, COUNT(*) FROM farm_tasks GROUP BY run_id, state ORDER BY run_id, state",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Leases held now: `(task, run, seq, worker, attempt, expires_at_ms)`, soonest to expire
    /// first.
    pub async fn leases(&self) -> Result<Vec<(i64, String, i32, Option<String>, i32, Option<i64>)>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT id, run_id, seq, leased_by, attempts, lease_expires_at_ms FROM farm_tasks WHERE state = 'leased' \
             ORDER BY lease_expires_at_ms, id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A run's tasks, in order.
    pub async fn tasks(&self, run_id: &str) -> Result<Vec<TaskRow>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT id, run_id, seq, item_from, item_to, state, attempts, leased_by, last_error FROM farm_tasks \
             WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
