//! Workers: what each offers (registered from `doctor`, plus admin tags), their heartbeats,
//! draining, and the blocklist of (run, worker, kind of task) that failed too often.

use crate::now_ms;
use crate::queue::{Farm, FarmError};

/// Failures of one kind of task in one run after which a worker stops getting it.
pub const BLOCK_AFTER: i32 = 3;

/// What a worker offers.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// Its id (unique in the farm).
    pub id: String,
    /// Its machine.
    pub host: String,
    /// Tasks it runs at once.
    pub slots: i32,
    /// Its memory.
    pub memory_gb: f64,
    /// GPU brands of its adapters (`nvidia`, `amd`, …).
    pub gpu_brands: Vec<String>,
    /// ONNX Runtime execution providers it has.
    pub onnx_providers: Vec<String>,
    /// Tags an admin gave it (`licensed-nuke`).
    pub tags: Vec<String>,
}

/// A task's host requirements (a workflow node's `requires`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requires {
    /// At least this much memory.
    pub memory_gb: f64,
    /// A GPU of this brand.
    pub gpu_brand: Option<String>,
    /// Every one of these tags.
    pub tags: Vec<String>,
}

impl Requires {
    /// Whether `worker` meets these requirements (the claim query says the same in SQL).
    pub fn met_by(&self, worker: &Worker) -> bool {
        worker.memory_gb >= self.memory_gb
            && self.gpu_brand.as_ref().is_none_or(|b| worker.gpu_brands.contains(b))
            && self.tags.iter().all(|t| worker.tags.contains(t))
    }
}

/// A worker as listed: what it offers, its state and its last heartbeat.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct WorkerRow {
    /// Its id.
    pub id: String,
    /// Its machine.
    pub host: String,
    /// Tasks at once.
    pub slots: i32,
    /// Memory.
    pub memory_gb: f64,
    /// GPU brands.
    pub gpu_brands: Vec<String>,
    /// Admin tags.
    pub tags: Vec<String>,
    /// `active` or `draining`.
    pub state: String,
    /// Its last heartbeat (unix ms).
    pub heartbeat_at_ms: i64,
}

/// A blocklist entry.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Blocked {
    /// The run.
    pub run_id: String,
    /// The worker.
    pub worker: String,
    /// The kind of task.
    pub kind: String,
    /// Failures so far; blocked from [`BLOCK_AFTER`].
    pub failures: i32,
    /// The last one's error.
    pub last_error: Option<String>,
}

impl Farm {
    /// Registers (or re-registers) a worker as active, with what it offers now.
    pub async fn register(&self, w: &Worker) -> Result<(), FarmError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO farm_workers (id, host, slots, memory_gb, gpu_brands, onnx_providers, tags, state, \
             heartbeat_at_ms, registered_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, slots = excluded.slots, \
             memory_gb = excluded.memory_gb, gpu_brands = excluded.gpu_brands, \
             onnx_providers = excluded.onnx_providers, tags = excluded.tags, state = 'active', \
             heartbeat_at_ms = excluded.heartbeat_at_ms",
        )
        .bind(&w.id)
        .bind(&w.host)
        .bind(w.slots)
        .bind(w.memory_gb)
        .bind(&w.gpu_brands)
        .bind(&w.onnx_providers)
        .bind(&w.tags)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that the worker is alive; `false` if it is not registered.
    pub async fn heartbeat(&self, worker: &str) -> Result<bool, FarmError> {
        let done = sqlx::query("UPDATE farm_workers SET heartbeat_at_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(worker)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes a worker out of rotation: it finishes what it holds and claims nothing more.
    /// `false` if it is not registered.
    pub async fn drain(&self, worker: &str) -> Result<bool, FarmError> {
        let done = sqlx::query("UPDATE farm_workers SET state = 'draining' WHERE id = $1")
            .bind(worker)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every registered worker, by id.
    pub async fn workers(&self) -> Result<Vec<WorkerRow>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT id, host, slots, memory_gb, gpu_brands, tags, state, heartbeat_at_ms FROM farm_workers ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Whether an active worker that heartbeat since `alive_since_ms` meets `requires`: a
    /// task no such worker meets is refused at submit, not left waiting for ever.
    pub async fn compatible(&self, requires: &Requires, alive_since_ms: i64) -> Result<bool, FarmError> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM farm_workers WHERE state = 'active' AND heartbeat_at_ms >= $1 AND memory_gb >= $2 \
             AND ($3::text IS NULL OR $3 = ANY(gpu_brands)) AND $4::text[] <@ tags LIMIT 1",
        )
        .bind(alive_since_ms)
        .bind(requires.memory_gb)
        .bind(&requires.gpu_brand)
        .bind(&requires.tags)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    /// The blocklist, with counts below the limit too.
    pub async fn blocklist(&self) -> Result<Vec<Blocked>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT run_id, worker, kind, failures, last_error FROM farm_blocklist ORDER BY run_id, worker, kind",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Clears a run's blocklist, for one worker or all: they get its tasks again.
    pub async fn clear_blocklist(&self, run_id: &str, worker: Option<&str>) -> Result<u64, FarmError> {
        let done = sqlx::query("DELETE FROM farm_blocklist WHERE run_id = $1 AND ($2::text IS NULL OR worker = $2)")
            .bind(run_id)
            .bind(worker)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
