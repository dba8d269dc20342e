//! The server's own tables (tenants, API keys, the run queue and history) on SQLite under the
//! data folder or on PostgreSQL, through one SQL text. Every query that reads or changes a
//! tenant's data names the tenant: a run id alone never finds another tenant's run.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _};

mod comfy;
mod keys;
mod library;
mod outputs;
mod submit;

pub(crate) use comfy::{Phase, PromptRow, UserFile};
pub(crate) use library::{Listing, Outcome, RevisionRow, TemplateRow, WorkflowRow};
pub(crate) use submit::Submitter;

use crate::ServerError;

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
    /// `standard` or `economy`.
    pub lane: String,
    /// A scheduled (off-peak) run waits until then (unix ms).
    pub not_before_ms: Option<i64>,
    /// Priced as of this time (unix s); when it starts if `None`.
    pub price_at_s: Option<i64>,
    /// Routes its placement accepts, comma-separated.
    pub routes: String,
    /// The library template it ran (`team/name@3`), and the revision hash that ran.
    pub template: Option<String>,
    pub revision: Option<String>,
}

const RUN_COLUMNS: &str = "id, tenant, state, tier, priority, account, member, budget, policy, workflow, overrides, \
     request_hash, quote_min, quote_max, submitted_at_ms, started_at_ms, finished_at_ms, attempts, \
     summary, error, lane, not_before_ms, price_at_s, routes, template, revision";

/// Which waiting runs a claim takes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pick {
    /// Standard-lane runs, in dispatch order.
    Standard,
    /// Economy-lane runs, in dispatch order.
    Economy,
    /// Economy-lane runs submitted before this (unix ms), oldest first.
    EconomyBefore(i64),
}

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
    pub member: Option<String>,
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

/// The run the tenant's idempotency `key` made, read through `db` (the pool, or a
/// transaction that may have just made it).
pub(super) async fn run_by_key(
    db: impl sqlx::AnyExecutor<'_>,
    tenant: &str,
    key: &str,
) -> Result<Option<RunRow>, ServerError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND idempotency_key = $2");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(key).fetch_optional(db).await?)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Store {
    /// A transaction that writes: on SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so it never fails midway on another writer's lock.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, ServerError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

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

    /// `sqlite` or `postgres`.
    pub(crate) fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The run the tenant's idempotency `key` made, if any.
    pub(crate) async fn run_by_key(&self, tenant: &str, key: &str) -> Result<Option<RunRow>, ServerError> {
        run_by_key(&self.pool, tenant, key).await
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
             WHERE tenant = $2 AND id = $3 AND state IN ('queued', 'paused', 'scheduled')",
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
            "UPDATE runs SET priority = $1 WHERE tenant = $2 AND id = $3 \
             AND state IN ('queued', 'paused', 'scheduled')",
        )
        .bind(priority)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves the tenant's waiting run `id` to the front (or back) of its account's own line
    /// at its tier and priority, by swapping turns with the run there. `None` when the
    /// tenant has no such waiting run; `Some(None)` when it was already there.
    pub(crate) async fn move_run(
        &self,
        tenant: &str,
        id: &str,
        front: bool,
    ) -> Result<Option<Option<String>>, ServerError> {
        let mut tx = self.write_tx().await?;
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!(
            "SELECT COALESCE(account, ''), tier, priority, turn FROM runs WHERE tenant = $1 AND id = $2 \
             AND state IN ('queued', 'paused'){lock}"
        );
        let found: Option<(String, i64, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(id).fetch_optional(&mut *tx).await?;
        let Some((account, tier, priority, turn)) = found else { return Ok(None) };
        let order = if front { "turn, submitted_at_ms, id" } else { "turn DESC, submitted_at_ms DESC, id DESC" };
        let sql = format!(
            "SELECT id, turn FROM runs WHERE tenant = $1 AND COALESCE(account, '') = $2 AND tier = $3 \
             AND priority = $4 AND state IN ('queued', 'paused') ORDER BY {order} LIMIT 1{lock}"
        );
        let (other, other_turn): (String, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(&account)
            .bind(tier)
            .bind(priority)
            .fetch_one(&mut *tx)
            .await?;
        if other == id {
            tx.commit().await?;
            return Ok(Some(None));
        }
        for (run, to) in [(id, other_turn), (other.as_str(), turn)] {
            sqlx::query("UPDATE runs SET turn = $1 WHERE id = $2").bind(to).bind(run).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(Some(other)))
    }

    /// Takes the next queued run of `pick` (plan tier, then the run's priority, then its
    /// account's turn, then the oldest) and marks it running. A paused tenant's runs are
    /// `paused` and an off-peak run is `scheduled`, not `queued`, so this reads one entry of
    /// the queue's index however many runs wait. On SQLite the write lock is taken only when
    /// there is a run to take; on PostgreSQL concurrent dispatchers skip each other's rows.
    pub(crate) async fn claim_next(&self, pick: Pick) -> Result<Option<RunRow>, ServerError> {
        const ORDER: &str = "ORDER BY tier DESC, priority DESC, turn, submitted_at_ms, id LIMIT 1";
        let (next, before) = match pick {
            Pick::Standard => (format!("SELECT id FROM runs WHERE state = 'queued' AND lane = 'standard' {ORDER}"), 0),
            // In the same statement as the pick, so a standard run queued since the standard
            // pick (a resume landing between the two) still goes first.
            Pick::Economy => (
                format!(
                    "SELECT id FROM runs WHERE state = 'queued' AND lane = 'economy' AND NOT EXISTS \
                     (SELECT 1 FROM runs s WHERE s.state = 'queued' AND s.lane = 'standard') {ORDER}"
                ),
                0,
            ),
            Pick::EconomyBefore(ms) => (
                "SELECT id FROM runs WHERE state = 'queued' AND lane = 'economy' AND submitted_at_ms < $1 \
                 ORDER BY submitted_at_ms, id LIMIT 1"
                    .to_string(),
                ms,
            ),
        };
        let query = |sql: String| {
            let q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            if matches!(pick, Pick::EconomyBefore(_)) { q.bind(before) } else { q }
        };
        loop {
            let mut tx = match self.backend {
                Backend::Sqlite => {
                    let found = query(next.clone()).fetch_optional(&self.pool).await?;
                    if found.is_none() {
                        return Ok(None);
                    }
                    self.pool.begin_with("BEGIN IMMEDIATE").await?
                }
                Backend::Postgres => self.pool.begin().await?,
            };
            let sql = match self.backend {
                Backend::Sqlite => next.clone(),
                Backend::Postgres => format!("{next} FOR UPDATE SKIP LOCKED"),
            };
            let Some(id) = query(sql).fetch_optional(&mut *tx).await? else {
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

    /// Scheduled runs whose time has come (`now`) are queued (paused, if their tenant's
    /// queue is). Returns how many.
    pub(crate) async fn promote_due(&self, now: i64) -> Result<u64, ServerError> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT not_before_ms FROM runs WHERE state = 'scheduled' ORDER BY not_before_ms LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none_or(|t| t > now) {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE runs SET state = CASE WHEN (SELECT paused FROM tenants t WHERE t.id = runs.tenant) = 1 \
             THEN 'paused' ELSE 'queued' END WHERE state = 'scheduled' AND not_before_ms <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
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

    /// Puts running run `id` (every running run, with `None`) back to wait: queued, or paused
    /// if its tenant's queue is. Returns how many.
    pub(crate) async fn requeue(&self, id: Option<&str>) -> Result<u64, ServerError> {
        let done = sqlx::query(
            "UPDATE runs SET started_at_ms = NULL, state = CASE WHEN (SELECT paused FROM tenants t WHERE t.id = runs.tenant) = 1 \
             THEN 'paused' ELSE 'queued' END WHERE state = 'running' AND ($1 IS NULL OR id = $2)",
        )
        .bind(id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
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
        self.requeue(None).await
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
        let mut tx = self.write_tx().await?;
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

    /// Runs waiting or running, by state, lane and plan tier: `(state, lane, tier, count)`
    /// (an off-peak run waits as `scheduled`).
    pub(crate) async fn depths(&self) -> Result<Vec<(String, String, i64, i64)>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT state, lane, tier, COUNT(*) FROM runs WHERE state IN ('queued', 'paused', 'scheduled', 'running') \
             GROUP BY state, lane, tier ORDER BY state, lane, tier",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The tenant's runs waiting or running, by state.
    pub(crate) async fn tenant_depths(&self, tenant: &str) -> Result<Vec<(String, i64)>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT state, COUNT(*) FROM runs WHERE tenant = $1 \
             AND state IN ('queued', 'paused', 'scheduled', 'running') GROUP BY state",
        )
        .bind(tenant)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: &str, lane: &str) -> RunRow {
        RunRow {
            id: id.into(),
            tenant: "acme".into(),
            state: "queued".into(),
            tier: 0,
            priority: 0,
            account: None,
            member: None,
            budget: None,
            policy: "cheapest".into(),
            workflow: "{}".into(),
            overrides: "[]".into(),
            request_hash: id.into(),
            quote_min: 0,
            quote_max: 0,
            submitted_at_ms: now_ms(),
            started_at_ms: None,
            finished_at_ms: None,
            attempts: 0,
            summary: None,
            error: None,
            lane: lane.into(),
            not_before_ms: None,
            price_at_s: None,
            routes: String::new(),
            template: None,
            revision: None,
        }
    }

    /// CI once saw an economy run start before a standard one: a resume that committed
    /// between the dispatcher's standard pick and its economy pick made both queued at once,
    /// and the economy pick took its run. The economy pick now yields in its own statement.
    #[test]
    fn an_economy_pick_yields_to_a_queued_standard_run() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), None).await.unwrap();
            crate::keys::create(&store, "acme", crate::keys::Role::Runner, None, None).await.unwrap();
            let submitter = Submitter::start(store.clone());
            submitter.submit(queued("e1", "economy"), None).await.unwrap();
            submitter.submit(queued("s1", "standard"), None).await.unwrap();
            assert!(store.claim_next(Pick::Economy).await.unwrap().is_none(), "a standard run is waiting");
            assert_eq!(store.claim_next(Pick::Standard).await.unwrap().map(|r| r.id).as_deref(), Some("s1"));
            assert_eq!(store.claim_next(Pick::Economy).await.unwrap().map(|r| r.id).as_deref(), Some("e1"));
        });
    }
}
