//! The server's own tables (tenants, API keys, the run queue and history) on SQLite under the
//! data folder or on PostgreSQL, through one SQL text. Every query that reads or changes a
//! tenant's data names the tenant: a run id alone never finds another tenant's run.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _};
use tokio::sync::{mpsc, oneshot};

use std::collections::BTreeMap;

use crate::ServerError;
use crate::protocol::KeyView;

/// The store's backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The server's database.
#[derive(Clone)]
pub(crate) struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
}

/// A run as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct RunRow {
    pub id: String,
    pub tenant: String,
    pub state: String,
    pub tier: i64,
    pub priority: i64,
    pub account: Option<String>,
    pub member: Option<String>,
    pub budget: Option<i64>,
    pub policy: String,
    pub workflow: String,
    pub overrides: String,
    pub request_hash: String,
    pub quote_min: i64,
    pub quote_max: i64,
    pub submitted_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub attempts: i64,
    pub summary: Option<String>,
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "id, tenant, state, tier, priority, account, member, budget, policy, workflow, overrides, \
     request_hash, quote_min, quote_max, submitted_at_ms, started_at_ms, finished_at_ms, attempts, \
     summary, error";

/// An output file of a run.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub(crate) struct OutputRow {
    pub name: String,
    pub hash: String,
    pub bytes: i64,
    pub media_type: String,
}

/// A stored API key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub tenant: String,
    pub secret_hash: String,
    pub role: String,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// What a cancel found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// It was queued: it is cancelled now.
    Dequeued,
    /// It is running: the cancel is recorded and its executor told.
    Requested,
    /// It had already ended, in this state.
    Ended(String),
}

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

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Store {
    /// Opens the store: PostgreSQL at `database`, else `server.db` in `data`.
    pub(crate) async fn open(data: &Path, database: Option<&str>) -> Result<Self, ServerError> {
        sqlx::any::install_default_drivers();
        let (pool, backend) = match database {
            Some(url) => (AnyPoolOptions::new().max_connections(16).connect(url).await?, Backend::Postgres),
            None => {
                let file = SqliteConnectOptions::new().filename(data.join("server.db")).create_if_missing(true);
                let options = AnyConnectOptions::from_str(file.to_url_lossy().as_str())?;
                let pool = AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::raw_sql(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                            )
                            .execute(conn)
                            .await
                            .map(|_| ())
                        })
                    })
                    .connect_with(options)
                    .await?;
                (pool, Backend::Sqlite)
            }
        };
        // The ledger's migrations may share the database (PostgreSQL).
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self { pool, backend })
    }

    pub(crate) async fn ensure_tenant(&self, tenant: &str) -> Result<(), ServerError> {
        sqlx::query("INSERT INTO tenants (id, created_at_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(tenant)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn insert_key(
        &self,
        id: &str,
        tenant: &str,
        hash: &str,
        role: &str,
        expires_at_ms: Option<i64>,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, secret_hash, role, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(tenant)
        .bind(hash)
        .bind(role)
        .bind(now_ms())
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant's keys, newest first (never their secrets' hashes).
    pub(crate) async fn keys(&self, tenant: &str) -> Result<Vec<KeyView>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT id, role, created_at_ms, expires_at_ms, revoked_at_ms FROM api_keys WHERE tenant = $1 \
             ORDER BY created_at_ms DESC, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes the tenant's key `id` (once: a second revoke keeps the first time); `None`
    /// when the tenant has no such key.
    pub(crate) async fn revoke_key(&self, tenant: &str, id: &str) -> Result<Option<KeyView>, ServerError> {
        sqlx::query("UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE tenant = $2 AND id = $3")
            .bind(now_ms())
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(self.keys(tenant).await?.into_iter().find(|k| k.id == id))
    }

    pub(crate) async fn key(&self, id: &str) -> Result<Option<KeyRow>, ServerError> {
        Ok(sqlx::query_as("SELECT tenant, secret_hash, role, expires_at_ms, revoked_at_ms FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

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
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        let mut out = Vec::with_capacity(runs.len());
        let turns = self.take_turns(&mut tx, runs).await?;
        for (Pending { run, key, .. }, turn) in runs.iter().zip(turns) {
            let done = sqlx::query(
                "INSERT INTO runs (id, tenant, state, tier, priority, account, member, budget, policy, workflow, \
                 overrides, idempotency_key, request_hash, quote_min, quote_max, submitted_at_ms, turn) \
                 VALUES ($1, $2, CASE WHEN (SELECT paused FROM tenants WHERE id = $3) = 1 THEN 'paused' ELSE 'queued' END, \
                 $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 ON CONFLICT (tenant, idempotency_key) DO NOTHING",
            )
            .bind(&run.id)
            .bind(&run.tenant)
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
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                out.push(None);
                continue;
            }
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND idempotency_key = $2");
            let first: Option<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&run.tenant)
                .bind(key.as_deref())
                .fetch_optional(&mut *tx)
                .await?;
            out.push(first);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The run the tenant's idempotency `key` made, if any.
    pub(crate) async fn run_by_key(&self, tenant: &str, key: &str) -> Result<Option<RunRow>, ServerError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND idempotency_key = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(key).fetch_optional(&self.pool).await?)
    }

    /// The tenant's run `id`.
    pub(crate) async fn run(&self, tenant: &str, id: &str) -> Result<Option<RunRow>, ServerError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND id = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(id).fetch_optional(&self.pool).await?)
    }

    /// The tenant's runs, newest first, older than `before` (a run id: ids sort by time),
    /// optionally in one state.
    pub(crate) async fn list(
        &self,
        tenant: &str,
        state: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunRow>, ServerError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND ($2 IS NULL OR state = $3) \
             AND ($4 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(state)
            .bind(state)
            .bind(before)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Cancels the tenant's run `id`: `None` when there is no such run of theirs.
    pub(crate) async fn cancel(&self, tenant: &str, id: &str) -> Result<Option<Cancelled>, ServerError> {
        let now = now_ms();
        let dequeued = sqlx::query(
            "UPDATE runs SET state = 'cancelled', cancel_requested = 1, finished_at_ms = $1 \
             WHERE tenant = $2 AND id = $3 AND state IN ('queued', 'paused')",
        )
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if dequeued.rows_affected() == 1 {
            return Ok(Some(Cancelled::Dequeued));
        }
        let requested =
            sqlx::query("UPDATE runs SET cancel_requested = 1 WHERE tenant = $1 AND id = $2 AND state = 'running'")
                .bind(tenant)
                .bind(id)
                .execute(&self.pool)
                .await?;
        if requested.rows_affected() == 1 {
            return Ok(Some(Cancelled::Requested));
        }
        Ok(self.run(tenant, id).await?.map(|r| Cancelled::Ended(r.state)))
    }

    /// Sets the priority of the tenant's queued run `id`; `false` when it is not queued.
    pub(crate) async fn set_priority(&self, tenant: &str, id: &str, priority: i64) -> Result<bool, ServerError> {
        let done = sqlx::query(
            "UPDATE runs SET priority = $1 WHERE tenant = $2 AND id = $3 AND state IN ('queued', 'paused')",
        )
        .bind(priority)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the next queued run (plan tier, then the run's priority, then its lane's turn,
    /// then the oldest) and
    /// marks it running. A paused tenant's runs are `paused`, not `queued`, so this reads one
    /// entry of the queue's index however many runs wait. On SQLite the write lock is taken
    /// only when there is a run to take; on PostgreSQL concurrent dispatchers skip each
    /// other's rows.
    pub(crate) async fn claim_next(&self) -> Result<Option<RunRow>, ServerError> {
        const NEXT: &str = "SELECT id FROM runs WHERE state = 'queued' \
             ORDER BY tier DESC, priority DESC, turn, submitted_at_ms, id LIMIT 1";
        loop {
            let mut tx = match self.backend {
                Backend::Sqlite => {
                    let found: Option<String> = sqlx::query_scalar(NEXT).fetch_optional(&self.pool).await?;
                    if found.is_none() {
                        return Ok(None);
                    }
                    self.pool.begin_with("BEGIN IMMEDIATE").await?
                }
                Backend::Postgres => self.pool.begin().await?,
            };
            let sql = match self.backend {
                Backend::Sqlite => NEXT.to_string(),
                Backend::Postgres => format!("{NEXT} FOR UPDATE SKIP LOCKED"),
            };
            let Some(id): Option<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_optional(&mut *tx).await?
            else {
                tx.rollback().await?;
                return Ok(None);
            };
            let claimed = sqlx::query(
                "UPDATE runs SET state = 'running', started_at_ms = $1, attempts = attempts + 1 \
                 WHERE id = $2 AND state = 'queued'",
            )
            .bind(now_ms())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                tx.rollback().await?;
                continue;
            }
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
            let run: RunRow = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            return Ok(Some(run));
        }
    }

    /// Records how a running run ended. A run the server stopped (shutdown, not the user)
    /// goes back to the queue instead.
    pub(crate) async fn finish(
        &self,
        id: &str,
        state: &str,
        summary: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "UPDATE runs SET state = $1, summary = $2, error = $3, finished_at_ms = $4 \
             WHERE id = $5 AND state = 'running'",
        )
        .bind(state)
        .bind(summary)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts a running run back in the queue (the server is stopping).
    pub(crate) async fn requeue(&self, id: &str) -> Result<(), ServerError> {
        sqlx::query(
            "UPDATE runs SET started_at_ms = NULL, state = CASE WHEN (SELECT paused FROM tenants t WHERE t.id = runs.tenant) = 1 \
             THEN 'paused' ELSE 'queued' END WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// At start-up: runs a killed server left running go back to the queue (a cancel asked
    /// for meanwhile ends them instead). Returns how many were re-queued.
    pub(crate) async fn recover(&self) -> Result<u64, ServerError> {
        sqlx::query(
            "UPDATE runs SET state = 'cancelled', finished_at_ms = $1 WHERE state = 'running' AND cancel_requested = 1",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        let done = sqlx::query(
            "UPDATE runs SET started_at_ms = NULL, state = CASE WHEN (SELECT paused FROM tenants t WHERE t.id = runs.tenant) = 1 \
             THEN 'paused' ELSE 'queued' END WHERE state = 'running'",
        )
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Indexes a run's kept output files.
    pub(crate) async fn insert_outputs(&self, run: &str, tenant: &str, files: &[OutputRow]) -> Result<(), ServerError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        for f in files {
            sqlx::query(
                "INSERT INTO outputs (run, tenant, name, hash, bytes, media_type) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (run, name) DO UPDATE SET hash = excluded.hash, bytes = excluded.bytes, \
                 media_type = excluded.media_type",
            )
            .bind(run)
            .bind(tenant)
            .bind(&f.name)
            .bind(&f.hash)
            .bind(f.bytes)
            .bind(&f.media_type)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's run's outputs, by name.
    pub(crate) async fn outputs(&self, tenant: &str, run: &str) -> Result<Vec<OutputRow>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT name, hash, bytes, media_type FROM outputs WHERE tenant = $1 AND run = $2 ORDER BY name",
        )
        .bind(tenant)
        .bind(run)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One of the tenant's outputs with this hash, if any.
    pub(crate) async fn output(&self, tenant: &str, hash: &str) -> Result<Option<OutputRow>, ServerError> {
        Ok(sqlx::query_as("SELECT name, hash, bytes, media_type FROM outputs WHERE tenant = $1 AND hash = $2 LIMIT 1")
            .bind(tenant)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whether the run's cancel was asked for.
    pub(crate) async fn cancel_requested(&self, id: &str) -> Result<bool, ServerError> {
        let flag: Option<i64> = sqlx::query_scalar("SELECT cancel_requested FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(flag == Some(1))
    }

    /// Pauses or resumes the dispatch of the tenant's runs: their queued runs become
    /// `paused` (and new ones are submitted so), or `queued` again.
    pub(crate) async fn set_paused(&self, tenant: &str, paused: bool) -> Result<(), ServerError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        sqlx::query("UPDATE tenants SET paused = $1 WHERE id = $2")
            .bind(i64::from(paused))
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let (from, to) = if paused { ("queued", "paused") } else { ("paused", "queued") };
        sqlx::query("UPDATE runs SET state = $1 WHERE tenant = $2 AND state = $3")
            .bind(to)
            .bind(tenant)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs waiting or running, by state and plan tier: `(state, tier, count)`.
    pub(crate) async fn depths(&self) -> Result<Vec<(String, i64, i64)>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT state, tier, COUNT(*) FROM runs WHERE state IN ('queued', 'paused', 'running') \
             GROUP BY state, tier ORDER BY state, tier",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Queued runs by (tier, priority), and how many run now.
    pub(crate) async fn waiting_by_level(&self) -> Result<(BTreeMap<(i64, i64), i64>, i64), ServerError> {
        let rows: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT tier, priority, COUNT(*) FROM runs WHERE state = 'queued' GROUP BY tier, priority")
                .fetch_all(&self.pool)
                .await?;
        let running: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE state = 'running'").fetch_one(&self.pool).await?;
        Ok((rows.into_iter().map(|(t, p, n)| ((t, p), n)).collect(), running))
    }

    /// Whether the database answers, for `/readyz`.
    pub(crate) async fn ping(&self) -> Result<(), ServerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
