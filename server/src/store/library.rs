//! The team library's tables: workflows (a path and a head), their immutable revisions, and
//! templates. Every query names the tenant.

use super::Store;
use crate::ServerError;

/// A workflow as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct WorkflowRow {
    pub id: String,
    pub path: String,
    pub head: String,
    pub head_seq: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub updated_by: String,
    pub deleted_at_ms: Option<i64>,
}

const WORKFLOW_COLUMNS: &str = "id, path, head, head_seq, created_at_ms, updated_at_ms, updated_by, deleted_at_ms";

/// A revision as stored (`body` is empty where a listing left it out).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct RevisionRow {
    pub seq: i64,
    pub hash: String,
    pub parents: String,
    pub author: String,
    pub message: String,
    pub layout_only: i64,
    pub created_at_ms: i64,
    pub body: String,
}

/// A template as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct TemplateRow {
    pub name: String,
    pub version: i64,
    pub workflow: String,
    pub revision: String,
    pub description: String,
    pub preview: Option<String>,
    pub exposed: String,
    pub needs: String,
    pub state: String,
    pub published_by: String,
    pub published_at_ms: i64,
}

const TEMPLATE_COLUMNS: &str = "name, version, workflow, revision, description, preview, exposed, needs, state, \
     published_by, published_at_ms";

/// Which workflows a listing shows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Listing<'a> {
    /// Only under this folder.
    pub folder: Option<&'a str>,
    /// Only paths containing this (case-insensitive).
    pub search: Option<&'a str>,
    /// Deleted ones instead of live ones.
    pub deleted: bool,
    /// After this path (the previous page's last).
    pub after: Option<&'a str>,
    pub limit: i64,
}

/// How a change to a workflow's row went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// No such workflow (or not in the state the change needs).
    Missing,
    /// Another live workflow has the path.
    PathTaken,
    /// The head moved since it was read: read again.
    Raced,
}

/// `text` for a LIKE pattern, its wildcards escaped (with `ESCAPE '\'`).
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    pub(crate) async fn library_list(&self, tenant: &str, l: &Listing<'_>) -> Result<Vec<WorkflowRow>, ServerError> {
        let deleted = if l.deleted { "deleted_at_ms IS NOT NULL" } else { "deleted_at_ms IS NULL" };
        let sql = format!(
            "SELECT {WORKFLOW_COLUMNS} FROM library_workflows WHERE tenant = $1 AND {deleted} \
             AND ($2 IS NULL OR path LIKE $3 ESCAPE '\\') AND ($4 IS NULL OR LOWER(path) LIKE $5 ESCAPE '\\') \
             AND ($6 IS NULL OR path > $7) ORDER BY path LIMIT $8"
        );
        let folder = l.folder.map(|f| format!("{}/%", like_escaped(f)));
        let search = l.search.map(|q| format!("%{}%", like_escaped(&q.to_lowercase())));
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(folder.clone())
            .bind(folder)
            .bind(search.clone())
            .bind(search)
            .bind(l.after)
            .bind(l.after)
            .bind(l.limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    pub(crate) async fn library_workflow(&self, tenant: &str, id: &str) -> Result<Option<WorkflowRow>, ServerError> {
        let sql = format!("SELECT {WORKFLOW_COLUMNS} FROM library_workflows WHERE tenant = $1 AND id = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(id).fetch_optional(&self.pool).await?)
    }

    pub(crate) async fn library_by_path(&self, tenant: &str, path: &str) -> Result<Option<WorkflowRow>, ServerError> {
        let sql = format!(
            "SELECT {WORKFLOW_COLUMNS} FROM library_workflows WHERE tenant = $1 AND path = $2 AND deleted_at_ms IS NULL"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(path).fetch_optional(&self.pool).await?)
    }

    async fn insert_revision(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        tenant: &str,
        workflow: &str,
        r: &RevisionRow,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO library_revisions (tenant, workflow, seq, hash, parents, author, message, layout_only, \
             created_at_ms, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(tenant)
        .bind(workflow)
        .bind(r.seq)
        .bind(&r.hash)
        .bind(&r.parents)
        .bind(&r.author)
        .bind(&r.message)
        .bind(r.layout_only)
        .bind(r.created_at_ms)
        .bind(&r.body)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A new workflow with its first revision; `PathTaken` if a live one has the path.
    pub(crate) async fn library_create(
        &self,
        tenant: &str,
        w: &WorkflowRow,
        first: &RevisionRow,
    ) -> Result<Outcome, ServerError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO library_workflows (tenant, id, path, head, head_seq, created_at_ms, updated_at_ms, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant)
        .bind(&w.id)
        .bind(&w.path)
        .bind(&w.head)
        .bind(w.head_seq)
        .bind(w.created_at_ms)
        .bind(w.updated_at_ms)
        .bind(&w.updated_by)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if unique_violation(&e) => return Ok(Outcome::PathTaken),
            other => other?,
        };
        Self::insert_revision(&mut tx, tenant, &w.id, first).await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    /// Appends `revisions` (their `seq`s following `base_seq`), the last as the new head, if
    /// the head is still at `base_seq`: a compare-and-set, so two pushes from one base never
    /// both land.
    pub(crate) async fn library_append(
        &self,
        tenant: &str,
        id: &str,
        base_seq: i64,
        revisions: &[RevisionRow],
    ) -> Result<Outcome, ServerError> {
        let Some(r) = revisions.last() else { return Ok(Outcome::Done) };
        let mut tx = self.write_tx().await?;
        let moved = sqlx::query(
            "UPDATE library_workflows SET head = $1, head_seq = $2, updated_at_ms = $3, updated_by = $4 \
             WHERE tenant = $5 AND id = $6 AND head_seq = $7 AND deleted_at_ms IS NULL",
        )
        .bind(&r.hash)
        .bind(r.seq)
        .bind(r.created_at_ms)
        .bind(&r.author)
        .bind(tenant)
        .bind(id)
        .bind(base_seq)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(Outcome::Raced);
        }
        for r in revisions {
            Self::insert_revision(&mut tx, tenant, id, r).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    /// The latest revision whose hash is `hash` or starts with it (a prefix of 8+ hex
    /// digits); `Err` names an ambiguous prefix.
    pub(crate) async fn library_revision(
        &self,
        tenant: &str,
        id: &str,
        hash: &str,
    ) -> Result<Result<Option<RevisionRow>, String>, ServerError> {
        let pattern = format!("{}%", like_escaped(hash));
        let hashes: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT hash FROM library_revisions WHERE tenant = $1 AND workflow = $2 \
             AND hash LIKE $3 ESCAPE '\\' LIMIT 2",
        )
        .bind(tenant)
        .bind(id)
        .bind(&pattern)
        .fetch_all(&self.pool)
        .await?;
        let [(full,)] = hashes.as_slice() else {
            return Ok(match hashes.len() {
                0 => Ok(None),
                _ => Err(format!("{hash} names more than one revision; give more of the hash")),
            });
        };
        let row = sqlx::query_as(
            "SELECT seq, hash, parents, author, message, layout_only, created_at_ms, body FROM library_revisions \
             WHERE tenant = $1 AND workflow = $2 AND hash = $3 ORDER BY seq DESC LIMIT 1",
        )
        .bind(tenant)
        .bind(id)
        .bind(full)
        .fetch_optional(&self.pool)
        .await?;
        Ok(Ok(row))
    }

    pub(crate) async fn library_revision_at(
        &self,
        tenant: &str,
        id: &str,
        seq: i64,
    ) -> Result<Option<RevisionRow>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT seq, hash, parents, author, message, layout_only, created_at_ms, body FROM library_revisions \
             WHERE tenant = $1 AND workflow = $2 AND seq = $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A workflow's history, newest first, without the bodies.
    pub(crate) async fn library_log(
        &self,
        tenant: &str,
        id: &str,
        limit: i64,
    ) -> Result<Vec<RevisionRow>, ServerError> {
        Ok(sqlx::query_as(
            "SELECT seq, hash, parents, author, message, layout_only, created_at_ms, '' AS body FROM library_revisions \
             WHERE tenant = $1 AND workflow = $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(crate) async fn library_move(
        &self,
        tenant: &str,
        id: &str,
        path: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<Outcome, ServerError> {
        let moved = sqlx::query(
            "UPDATE library_workflows SET path = $1, updated_at_ms = $2, updated_by = $3 \
             WHERE tenant = $4 AND id = $5 AND deleted_at_ms IS NULL",
        )
        .bind(path)
        .bind(at_ms)
        .bind(by)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await;
        match moved {
            Err(e) if unique_violation(&e) => Ok(Outcome::PathTaken),
            Err(e) => Err(e.into()),
            Ok(done) if done.rows_affected() == 0 => Ok(Outcome::Missing),
            Ok(_) => Ok(Outcome::Done),
        }
    }

    /// Soft-deletes (`deleted_at_ms` set) or restores (`None`) a workflow.
    pub(crate) async fn library_set_deleted(
        &self,
        tenant: &str,
        id: &str,
        deleted_at_ms: Option<i64>,
    ) -> Result<Outcome, ServerError> {
        let want = if deleted_at_ms.is_some() { "deleted_at_ms IS NULL" } else { "deleted_at_ms IS NOT NULL" };
        let sql = format!("UPDATE library_workflows SET deleted_at_ms = $1 WHERE tenant = $2 AND id = $3 AND {want}");
        let done =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(deleted_at_ms).bind(tenant).bind(id).execute(&self.pool).await;
        match done {
            Err(e) if unique_violation(&e) => Ok(Outcome::PathTaken),
            Err(e) => Err(e.into()),
            Ok(done) if done.rows_affected() == 0 => Ok(Outcome::Missing),
            Ok(_) => Ok(Outcome::Done),
        }
    }

    /// Inserts `t` as the next version of its name; returns the version.
    pub(crate) async fn library_publish(&self, tenant: &str, t: &TemplateRow) -> Result<i64, ServerError> {
        let mut tx = self.write_tx().await?;
        let (version,): (i64,) = sqlx::query_as(
            "INSERT INTO library_templates (tenant, name, version, workflow, revision, description, preview, exposed, \
             needs, state, published_by, published_at_ms) \
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             FROM library_templates WHERE tenant = $12 AND name = $13 RETURNING version",
        )
        .bind(tenant)
        .bind(&t.name)
        .bind(&t.workflow)
        .bind(&t.revision)
        .bind(&t.description)
        .bind(&t.preview)
        .bind(&t.exposed)
        .bind(&t.needs)
        .bind(&t.state)
        .bind(&t.published_by)
        .bind(t.published_at_ms)
        .bind(tenant)
        .bind(&t.name)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Version `version` of a template, or (`None`) its latest published one.
    pub(crate) async fn library_template(
        &self,
        tenant: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<TemplateRow>, ServerError> {
        let sql = match version {
            Some(_) => format!(
                "SELECT {TEMPLATE_COLUMNS} FROM library_templates WHERE tenant = $1 AND name = $2 AND version = $3"
            ),
            None => format!(
                "SELECT {TEMPLATE_COLUMNS} FROM library_templates WHERE tenant = $1 AND name = $2 AND state = 'published' \
                 AND $3 IS NULL ORDER BY version DESC LIMIT 1"
            ),
        };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every version of the team's templates, by name then version.
    pub(crate) async fn library_templates(&self, tenant: &str, limit: i64) -> Result<Vec<TemplateRow>, ServerError> {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM library_templates WHERE tenant = $1 ORDER BY name, version LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(limit).fetch_all(&self.pool).await?)
    }

    pub(crate) async fn library_template_state(
        &self,
        tenant: &str,
        name: &str,
        version: i64,
        state: &str,
    ) -> Result<bool, ServerError> {
        let done =
            sqlx::query("UPDATE library_templates SET state = $1 WHERE tenant = $2 AND name = $3 AND version = $4")
                .bind(state)
                .bind(tenant)
                .bind(name)
                .bind(version)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
