//! ComfyUI's prompts (a run posted to `/prompt`, with what ComfyUI's clients read back) and
//! user data (the frontend's saved workflows and settings), per tenant.

use super::{RUN_COLUMNS, RunRow, Store, now_ms};
use crate::ServerError;

/// A prompt as kept.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct PromptRow {
    pub run: String,
    pub tenant: String,
    pub prompt_id: String,
    pub number: i64,
    pub client_id: Option<String>,
    /// The API-format prompt as posted (JSON).
    pub prompt: String,
    /// Its `extra_data`, secrets removed (JSON).
    pub extra_data: String,
    /// Switchyard node id -> ComfyUI node id (JSON).
    pub origin: String,
}

const PROMPT_COLUMNS: &str = "p.run, p.tenant, p.prompt_id, p.number, p.client_id, p.prompt, p.extra_data, p.origin";

/// A file of user data: its path and size, and when it last changed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct UserFile {
    pub path: String,
    pub bytes: i64,
    pub modified_ms: i64,
}

/// Which of a tenant's prompts a listing reads, by their runs' states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Queued, paused or scheduled.
    Pending,
    /// Running.
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl Phase {
    fn states(self) -> &'static str {
        match self {
            Phase::Pending => "'queued', 'paused', 'scheduled'",
            Phase::Running => "'running'",
            Phase::Succeeded => "'succeeded'",
            Phase::Failed => "'failed'",
            Phase::Cancelled => "'cancelled'",
        }
    }

    fn ended(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed | Phase::Cancelled)
    }

    /// The runs' states of `phases`, as an SQL condition (ended ones not cleared).
    fn condition(phases: &[Phase]) -> String {
        let terms: Vec<String> = phases
            .iter()
            .map(|p| match p.ended() {
                true => format!("(runs.state IN ({}) AND p.hidden = 0)", p.states()),
                false => format!("runs.state IN ({})", p.states()),
            })
            .collect();
        if terms.is_empty() { "1 = 0".into() } else { format!("({})", terms.join(" OR ")) }
    }
}

/// The run's columns, named through the table (both tables have `tenant`, always equal).
fn run_columns() -> String {
    RUN_COLUMNS.split(',').map(|c| format!("runs.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

fn joined(row: sqlx::any::AnyRow) -> Result<(PromptRow, RunRow), sqlx::Error> {
    use sqlx::FromRow as _;
    Ok((PromptRow::from_row(&row)?, RunRow::from_row(&row)?))
}

impl Store {
    /// Keeps a prompt, numbered after the tenant's last; `false` when the tenant already has
    /// a prompt with its id.
    pub(crate) async fn insert_prompt(&self, p: &PromptRow) -> Result<Option<i64>, ServerError> {
        let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
            "INSERT INTO comfy_prompts (run, tenant, prompt_id, number, client_id, prompt, extra_data, origin) \
             SELECT $1, $2, $3, COALESCE(MAX(number), 0) + 1, $4, $5, $6, $7 FROM comfy_prompts WHERE tenant = $8 \
             RETURNING number",
        )
        .bind(&p.run)
        .bind(&p.tenant)
        .bind(&p.prompt_id)
        .bind(&p.client_id)
        .bind(&p.prompt)
        .bind(&p.extra_data)
        .bind(&p.origin)
        .bind(&p.tenant)
        .fetch_one(&self.pool)
        .await;
        match inserted {
            Ok((number,)) => Ok(Some(number)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets a prompt whose run was not made.
    pub(crate) async fn drop_prompt(&self, tenant: &str, run: &str) -> Result<(), ServerError> {
        sqlx::query("DELETE FROM comfy_prompts WHERE tenant = $1 AND run = $2")
            .bind(tenant)
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The tenant's prompt `prompt_id` and its run.
    pub(crate) async fn prompt(
        &self,
        tenant: &str,
        prompt_id: &str,
    ) -> Result<Option<(PromptRow, RunRow)>, ServerError> {
        let sql = format!(
            "SELECT {PROMPT_COLUMNS}, {} FROM comfy_prompts p JOIN runs ON runs.id = p.run \
             WHERE p.tenant = $1 AND p.prompt_id = $2",
            run_columns()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(prompt_id).fetch_optional(&self.pool).await?;
        Ok(row.map(joined).transpose()?)
    }

    /// The prompt that made the tenant's run `run`, if one did.
    pub(crate) async fn prompt_of_run(&self, tenant: &str, run: &str) -> Result<Option<PromptRow>, ServerError> {
        let sql = format!("SELECT {PROMPT_COLUMNS} FROM comfy_prompts p WHERE p.tenant = $1 AND p.run = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(run).fetch_optional(&self.pool).await?)
    }

    /// The tenant's prompts in `phases`, oldest first or newest first.
    pub(crate) async fn prompts(
        &self,
        tenant: &str,
        phases: &[Phase],
        newest_first: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<(PromptRow, RunRow)>, ServerError> {
        let order = if newest_first { "p.number DESC" } else { "p.number" };
        let sql = format!(
            "SELECT {PROMPT_COLUMNS}, {} FROM comfy_prompts p JOIN runs ON runs.id = p.run \
             WHERE p.tenant = $1 AND {} ORDER BY {order} LIMIT $2 OFFSET $3",
            run_columns(),
            Phase::condition(phases)
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(limit).bind(offset).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(joined).collect::<Result<_, _>>()?)
    }

    /// How many of the tenant's prompts are in `phases`.
    pub(crate) async fn count_prompts(&self, tenant: &str, phases: &[Phase]) -> Result<i64, ServerError> {
        let sql = format!(
            "SELECT COUNT(*) FROM comfy_prompts p JOIN runs ON runs.id = p.run WHERE p.tenant = $1 AND {}",
            Phase::condition(phases)
        );
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).fetch_one(&self.pool).await?;
        Ok(n)
    }

    /// Clears the tenant's ended prompts from the history: all of them, or those named.
    pub(crate) async fn hide_prompts(&self, tenant: &str, ids: Option<&[String]>) -> Result<u64, ServerError> {
        let Some(ids) = ids else {
            let done = sqlx::query("UPDATE comfy_prompts SET hidden = 1 WHERE tenant = $1")
                .bind(tenant)
                .execute(&self.pool)
                .await?;
            return Ok(done.rows_affected());
        };
        let mut hidden = 0;
        for id in ids {
            let done = sqlx::query("UPDATE comfy_prompts SET hidden = 1 WHERE tenant = $1 AND prompt_id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&self.pool)
                .await?;
            hidden += done.rows_affected();
        }
        Ok(hidden)
    }

    /// The tenant's runs waiting or running.
    pub(crate) async fn unfinished(&self, tenant: &str) -> Result<i64, ServerError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM runs WHERE tenant = $1 AND state IN ('queued', 'paused', 'scheduled', 'running')",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// The tenant's user-data files under `prefix` (a folder path ending in `/`, or empty).
    pub(crate) async fn user_files(&self, tenant: &str, prefix: &str) -> Result<Vec<UserFile>, ServerError> {
        let files: Vec<UserFile> = sqlx::query_as(
            "SELECT path, CAST(LENGTH(body) AS BIGINT) AS bytes, modified_ms FROM comfy_userdata \
             WHERE tenant = $1 ORDER BY path",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(files.into_iter().filter(|f| f.path.starts_with(prefix)).collect())
    }

    /// One of the tenant's user-data files.
    pub(crate) async fn user_file(&self, tenant: &str, path: &str) -> Result<Option<(String, i64)>, ServerError> {
        Ok(sqlx::query_as("SELECT body, modified_ms FROM comfy_userdata WHERE tenant = $1 AND path = $2")
            .bind(tenant)
            .bind(path)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Writes a user-data file; `false` (and nothing written) when it exists and
    /// `overwrite` is off.
    pub(crate) async fn put_user_file(
        &self,
        tenant: &str,
        path: &str,
        body: &str,
        overwrite: bool,
    ) -> Result<bool, ServerError> {
        let conflict = match overwrite {
            true => "DO UPDATE SET body = excluded.body, modified_ms = excluded.modified_ms",
            false => "DO NOTHING",
        };
        let sql = format!(
            "INSERT INTO comfy_userdata (tenant, path, body, modified_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, path) {conflict}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(path)
            .bind(body)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a user-data file; `false` when there was none.
    pub(crate) async fn delete_user_file(&self, tenant: &str, path: &str) -> Result<bool, ServerError> {
        let done = sqlx::query("DELETE FROM comfy_userdata WHERE tenant = $1 AND path = $2")
            .bind(tenant)
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a user-data file. `Ok(None)` when there is no such file; `Ok(Some(false))` when
    /// `to` exists and `overwrite` is off.
    pub(crate) async fn move_user_file(
        &self,
        tenant: &str,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<Option<bool>, ServerError> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(String,)> =
            sqlx::query_as("SELECT body FROM comfy_userdata WHERE tenant = $1 AND path = $2")
                .bind(tenant)
                .bind(from)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((body,)) = found else { return Ok(None) };
        let taken: Option<(i64,)> =
            sqlx::query_as("SELECT modified_ms FROM comfy_userdata WHERE tenant = $1 AND path = $2")
                .bind(tenant)
                .bind(to)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() && !overwrite {
            return Ok(Some(false));
        }
        sqlx::query("DELETE FROM comfy_userdata WHERE tenant = $1 AND path IN ($2, $3)")
            .bind(tenant)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO comfy_userdata (tenant, path, body, modified_ms) VALUES ($1, $2, $3, $4)")
            .bind(tenant)
            .bind(to)
            .bind(&body)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(true))
    }
}
