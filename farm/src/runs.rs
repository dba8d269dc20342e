//! Farm runs: what a run executes, stored once beside its tasks (in the same transaction).

use serde::{Deserialize, Serialize};

use crate::now_ms;
use crate::queue::{Farm, FarmError, NewTask};

/// A batch run on the farm: the workflow, the files it runs over and where it writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarmRun {
    /// Its id.
    pub id: String,
    /// The workflow file's text.
    pub workflow: String,
    /// The folder the workflow's relative inputs resolve against (shared by the workers).
    pub input_root: String,
    /// The shared folder outputs go to.
    pub out_dir: String,
    /// `node.param` each file's path binds to.
    pub bind: String,
    /// The batch's files, absolute, in item order.
    pub files: Vec<String>,
    /// `node.param=value` overrides for every item.
    pub overrides: Vec<String>,
}

impl FarmRun {
    /// A new run id (UUIDv7: ids sort by submission time).
    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

impl Farm {
    /// Stores a run and queues its tasks, in one transaction (all or none).
    pub async fn submit(&self, run: &FarmRun, tasks: &[NewTask]) -> Result<(), FarmError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO farm_runs (id, workflow, input_root, out_dir, bind, files, overrides, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&run.id)
        .bind(&run.workflow)
        .bind(&run.input_root)
        .bind(&run.out_dir)
        .bind(&run.bind)
        .bind(serde_json::to_string(&run.files).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&run.overrides).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        self.add_in(&mut tx, &run.id, tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A run, if it exists.
    pub async fn run(&self, id: &str) -> Result<Option<FarmRun>, FarmError> {
        type Row = (String, String, String, String, String, String, String);
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, workflow, input_root, out_dir, bind, files, overrides FROM farm_runs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some((id, workflow, input_root, out_dir, bind, files, overrides)) = row else { return Ok(None) };
        let list = |what: &str, text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|e| FarmError::Corrupt(format!("run {id}'s {what}: {e}")))
        };
        let (files, overrides) = (list("files", &files)?, list("overrides", &overrides)?);
        Ok(Some(FarmRun { id, workflow, input_root, out_dir, bind, files, overrides }))
    }
}
