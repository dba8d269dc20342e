//! Farm runs: what a run executes and who pays for it, stored once beside its tasks (in
//! the same transaction).

use serde::{Deserialize, Serialize};

use crate::now_ms;
use crate::queue::{Farm, FarmError, NewTask};

/// A batch run on the farm: the workflow, the files it runs over and where it writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Who pays for its paid calls, when it makes any.
    pub billing: Option<RunBilling>,
    /// The server tenant it belongs to (none when submitted straight to the database).
    pub tenant: Option<String>,
    /// The frames' names, one per file (`{item}` in output paths); empty: the files' stems.
    pub names: Vec<String>,
}

/// Who pays for a farm run, and how its paid nodes are placed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunBilling {
    /// The wallet.
    pub account: String,
    /// The team member spending from it, within their cap.
    pub member: Option<String>,
    /// The most one batch item may cost, in credits (the quote's upper bound): a task
    /// reserves this for each of its items when it is dispatched.
    pub item_most: i64,
    /// The most the whole run may commit, in credits.
    pub budget: Option<i64>,
    /// The placement policy workers place the paid nodes by.
    pub policy: String,
    /// The time (unix seconds) prices were taken at when the run was quoted, so every worker
    /// places and prices as the quote did.
    pub price_at_s: Option<i64>,
}

impl FarmRun {
    /// A new run id (UUIDv7: ids sort by submission time).
    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// A stored run's row.
type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

impl Farm {
    /// Stores a run and queues its tasks, in one transaction (all or none).
    pub async fn submit(&self, run: &FarmRun, tasks: &[NewTask]) -> Result<(), FarmError> {
        let mut tx = self.pool().begin().await?;
        let b = run.billing.as_ref();
        sqlx::query(
            "INSERT INTO farm_runs (id, workflow, input_root, out_dir, bind, files, overrides, created_at_ms, \
             account, member, item_most, budget_left, policy, price_at_s, tenant, names) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&run.id)
        .bind(&run.workflow)
        .bind(&run.input_root)
        .bind(&run.out_dir)
        .bind(&run.bind)
        .bind(serde_json::to_string(&run.files).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&run.overrides).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .bind(b.map(|b| &b.account))
        .bind(b.and_then(|b| b.member.as_ref()))
        .bind(b.map_or(0, |b| b.item_most.max(0)))
        .bind(b.and_then(|b| b.budget))
        .bind(b.map_or("", |b| &b.policy))
        .bind(b.and_then(|b| b.price_at_s))
        .bind(&run.tenant)
        .bind((!run.names.is_empty()).then(|| serde_json::to_string(&run.names).unwrap_or_else(|_| "[]".into())))
        .execute(&mut *tx)
        .await?;
        self.add_in(&mut tx, &run.id, tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A run, if it exists.
    pub async fn run(&self, id: &str) -> Result<Option<FarmRun>, FarmError> {
        self.run_where(id, None).await
    }

    /// A tenant's run, if it exists and is that tenant's (another tenant's is not found).
    pub async fn run_of(&self, tenant: &str, id: &str) -> Result<Option<FarmRun>, FarmError> {
        self.run_where(id, Some(tenant)).await
    }

    async fn run_where(&self, id: &str, tenant: Option<&str>) -> Result<Option<FarmRun>, FarmError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, workflow, input_root, out_dir, bind, files, overrides, account, member, item_most, \
             budget_left, policy, price_at_s, tenant, names FROM farm_runs WHERE id = $1 \
             AND ($2::text IS NULL OR tenant = $2)",
        )
        .bind(id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await?;
        let Some((
            id,
            workflow,
            input_root,
            out_dir,
            bind,
            files,
            overrides,
            account,
            member,
            item_most,
            budget,
            policy,
            price_at_s,
            tenant,
            names,
        )) = row
        else {
            return Ok(None);
        };
        let list = |what: &str, text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|e| FarmError::Corrupt(format!("run {id}'s {what}: {e}")))
        };
        let (files, overrides) = (list("files", &files)?, list("overrides", &overrides)?);
        let names = match names {
            Some(text) => list("names", &text)?,
            None => Vec::new(),
        };
        let billing = account.map(|account| RunBilling { account, member, item_most, budget, policy, price_at_s });
        Ok(Some(FarmRun { id, workflow, input_root, out_dir, bind, files, overrides, billing, tenant, names }))
    }
}

/// A listed run's row: id, frames, account, one task state and its count.
type SummaryRow = (String, i64, Option<String>, Option<String>, i64);

/// A run as listed: its frames and its tasks by state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// Its id.
    pub id: String,
    /// Its frames.
    pub frames: i64,
    /// The wallet it bills, if any.
    pub account: Option<String>,
    /// Tasks by state.
    pub counts: Vec<(String, i64)>,
}

impl Farm {
    /// A tenant's runs, newest first, up to `limit`, after the run `before` (a page's cursor).
    pub async fn runs_of(&self, tenant: &str, before: Option<&str>, limit: i64) -> Result<Vec<RunSummary>, FarmError> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "WITH page AS (SELECT id, json_array_length(files::json)::bigint AS frames, account FROM farm_runs \
                 WHERE tenant = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3) \
             SELECT page.id, page.frames, page.account, t.state, COUNT(t.id) FROM page \
             LEFT JOIN farm_tasks t ON t.run_id = page.id GROUP BY page.id, page.frames, page.account, t.state \
             ORDER BY page.id DESC",
        )
        .bind(tenant)
        .bind(before)
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.pool())
        .await?;
        let mut runs: Vec<RunSummary> = Vec::new();
        for (id, frames, account, state, n) in rows {
            if runs.last().is_none_or(|r| r.id != id) {
                runs.push(RunSummary { id, frames, account, counts: Vec::new() });
            }
            if let (Some(state), Some(run)) = (state, runs.last_mut()) {
                run.counts.push((state, n));
            }
        }
        Ok(runs)
    }
}
