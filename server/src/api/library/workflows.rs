//! `/v1/library/workflows`: list, add, read, push (merging three-way when the head moved),
//! restore, diff, move, delete and undelete.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use switchyard_engine::format::{FORMAT_NAME, SUPPORTED_VERSIONS, WorkflowFile};
use switchyard_library::{content_hash, merge, revision_hash};

use super::{author, check_path, conflict};
use crate::App;
use crate::api::runs::parse;
use crate::api::{ApiError, require};
use crate::keys::{Caller, Permission};
use crate::library::{
    ConflictDetails, CreateWorkflow, DiffReply, MoveWorkflowRequest, PushReply, PushRequest, RestoreRequest,
    RevisionLog, RevisionView, WorkflowList, WorkflowSummary, WorkflowView,
};
use crate::store::{Listing, Outcome, RevisionRow, WorkflowRow, now_ms};

/// The most workflows one page lists.
const LIST_MAX: i64 = 1000;
/// The most revisions one log lists.
const LOG_MAX: i64 = 1000;
/// Pushes retried when another landed between reading the head and writing.
const PUSH_TRIES: usize = 3;

pub(super) fn summary(w: &WorkflowRow) -> WorkflowSummary {
    WorkflowSummary {
        id: w.id.clone(),
        path: w.path.clone(),
        head: w.head.clone(),
        revisions: w.head_seq,
        updated_at_ms: w.updated_at_ms,
        updated_by: w.updated_by.clone(),
        deleted_at_ms: w.deleted_at_ms,
    }
}

pub(super) fn revision_view(r: &RevisionRow) -> RevisionView {
    RevisionView {
        hash: r.hash.clone(),
        parents: serde_json::from_str(&r.parents).unwrap_or_default(),
        author: r.author.clone(),
        created_at_ms: r.created_at_ms,
        message: r.message.clone(),
        layout_only: r.layout_only != 0,
    }
}

/// A workflow file sent to the library: it must read as the format (its nodes need not
/// validate yet: a library holds work in progress).
pub(super) fn workflow_of(value: Value) -> Result<WorkflowFile, ApiError> {
    let bad = |m: String| {
        ApiError::bad_request("bad-workflow", m).help("send a workflow file's JSON, as `switchyard run` reads one")
    };
    let file: WorkflowFile =
        serde_json::from_value(value).map_err(|e| bad(format!("the workflow is not a workflow file: {e}")))?;
    if file.format != FORMAT_NAME || !SUPPORTED_VERSIONS.contains(&file.version) {
        return Err(bad(format!("format {:?} version {} is not {FORMAT_NAME} version 1", file.format, file.version)));
    }
    Ok(file)
}

pub(super) fn file_of(r: &RevisionRow) -> Result<WorkflowFile, ApiError> {
    serde_json::from_str(&r.body)
        .map_err(|e| ApiError::from(crate::ServerError::Invalid(format!("a stored revision: {e}"))))
}

fn body_of(file: &WorkflowFile) -> String {
    serde_json::to_string(file).unwrap_or_default()
}

pub(super) async fn live(app: &App, caller: &Caller, id: &str) -> Result<WorkflowRow, ApiError> {
    match app.store.library_workflow(&caller.tenant, id).await? {
        Some(w) if w.deleted_at_ms.is_none() => Ok(w),
        Some(_) => Err(conflict("deleted", format!("workflow {id} is deleted")).help("undelete it first")),
        None => Err(ApiError::not_found(format!("no workflow {id} in this team's library"))),
    }
}

async fn any(app: &App, caller: &Caller, id: &str) -> Result<WorkflowRow, ApiError> {
    app.store
        .library_workflow(&caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no workflow {id} in this team's library")))
}

/// The revision `hash` (or a prefix of 8+ hex digits) of workflow `id`.
pub(super) async fn revision(app: &App, caller: &Caller, id: &str, hash: &str) -> Result<RevisionRow, ApiError> {
    let hex =
        hash.len() >= 8 && hash.len() <= 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return Err(ApiError::bad_request(
            "bad-revision",
            format!("{hash:?} is not a revision hash or a prefix of 8+ of its hex digits"),
        ));
    }
    match app.store.library_revision(&caller.tenant, id, hash).await? {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(ApiError::not_found(format!("workflow {id} has no revision {hash}"))),
        Err(ambiguous) => Err(ApiError::bad_request("bad-revision", ambiguous)),
    }
}

async fn head(app: &App, caller: &Caller, w: &WorkflowRow) -> Result<RevisionRow, ApiError> {
    app.store
        .library_revision_at(&caller.tenant, &w.id, w.head_seq)
        .await?
        .ok_or_else(|| ApiError::from(crate::ServerError::Invalid(format!("workflow {} lost its head", w.id))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    folder: Option<String>,
    q: Option<String>,
    #[serde(default)]
    deleted: bool,
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/library/workflows`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<WorkflowList>, ApiError> {
    require(&caller, Permission::Read)?;
    if let Some(folder) = &q.folder {
        check_path(folder)?;
    }
    let limit = q.limit.unwrap_or(200);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(ApiError::bad_request("bad-limit", format!("limit must be 1 to {LIST_MAX}")));
    }
    if q.q.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(ApiError::bad_request("bad-query", "a search is at most 256 bytes"));
    }
    let listing = Listing {
        folder: q.folder.as_deref(),
        search: q.q.as_deref(),
        deleted: q.deleted,
        after: q.after.as_deref(),
        limit: limit + 1,
    };
    let mut rows = app.store.library_list(&caller.tenant, &listing).await?;
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|w| w.path.clone())
    });
    Ok(Json(WorkflowList { workflows: rows.iter().map(summary).collect(), next: next.flatten() }))
}

/// Adds `file` at `path`: its first revision.
pub(crate) async fn create_at(
    app: &App,
    caller: &Caller,
    path: &str,
    file: &WorkflowFile,
    message: &str,
) -> Result<WorkflowView, ApiError> {
    let now = now_ms();
    let hash = revision_hash(file).to_string();
    let first = RevisionRow {
        seq: 1,
        hash: hash.clone(),
        parents: "[]".into(),
        author: author(caller),
        message: message.to_string(),
        layout_only: 0,
        created_at_ms: now,
        body: body_of(file),
    };
    let row = WorkflowRow {
        id: uuid::Uuid::now_v7().to_string(),
        path: path.to_string(),
        head: hash,
        head_seq: 1,
        created_at_ms: now,
        updated_at_ms: now,
        updated_by: first.author.clone(),
        deleted_at_ms: None,
    };
    if app.store.library_create(&caller.tenant, &row, &first).await? == Outcome::PathTaken {
        return Err(conflict("path-taken", format!("the library already has a workflow at {path}"))
            .help("push to that workflow, or choose another path"));
    }
    tracing::info!(tenant = %caller.tenant, workflow = %row.id, "library workflow added");
    let workflow = serde_json::from_str(&first.body).unwrap_or_default();
    Ok(WorkflowView { summary: summary(&row), revision: revision_view(&first), workflow })
}

/// `POST /v1/library/workflows`.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<WorkflowView>), ApiError> {
    require(&caller, Permission::Edit)?;
    let req: CreateWorkflow = parse(&body)?;
    check_path(&req.path)?;
    let file = workflow_of(req.workflow)?;
    Ok((StatusCode::CREATED, Json(create_at(&app, &caller, &req.path, &file, &req.message).await?)))
}

/// `file` as the new head of workflow `id`, whatever the head is (a save that replaces, as
/// ComfyUI's frontend saves); nothing when the head already has that content.
pub(crate) async fn append_head(
    app: &App,
    caller: &Caller,
    id: &str,
    file: &WorkflowFile,
    message: &str,
) -> Result<(), ApiError> {
    for _ in 0..PUSH_TRIES {
        let w = live(app, caller, id).await?;
        if revision_hash(file).as_str() == w.head {
            return Ok(());
        }
        let head_file = file_of(&head(app, caller, &w).await?)?;
        let r = next_revision(caller, w.head_seq + 1, &head_file, file, vec![w.head.clone()], message.to_string());
        if app.store.library_append(&caller.tenant, id, w.head_seq, std::slice::from_ref(&r)).await? == Outcome::Done {
            return Ok(());
        }
    }
    Err(conflict("busy", "the workflow kept changing while saving"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShowQuery {
    revision: Option<String>,
}

/// `GET /v1/library/workflows/{id}`.
pub(crate) async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Json<WorkflowView>, ApiError> {
    require(&caller, Permission::Read)?;
    let w = any(&app, &caller, &id).await?;
    let r = match &q.revision {
        Some(hash) => revision(&app, &caller, &id, hash).await?,
        None => head(&app, &caller, &w).await?,
    };
    let workflow = serde_json::from_str(&r.body).unwrap_or_default();
    Ok(Json(WorkflowView { summary: summary(&w), revision: revision_view(&r), workflow }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    limit: Option<i64>,
}

/// `GET /v1/library/workflows/{id}/log`.
pub(crate) async fn log(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Json<RevisionLog>, ApiError> {
    require(&caller, Permission::Read)?;
    any(&app, &caller, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, LOG_MAX);
    let rows = app.store.library_log(&caller.tenant, &id, limit).await?;
    Ok(Json(RevisionLog { revisions: rows.iter().map(revision_view).collect() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffQuery {
    from: String,
    to: Option<String>,
}

/// `GET /v1/library/workflows/{id}/diff?from=A&to=B` (`to`: the head).
pub(crate) async fn diff(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<DiffReply>, ApiError> {
    require(&caller, Permission::Read)?;
    let w = any(&app, &caller, &id).await?;
    let from = revision(&app, &caller, &id, &q.from).await?;
    let to = match &q.to {
        Some(hash) => revision(&app, &caller, &id, hash).await?,
        None => head(&app, &caller, &w).await?,
    };
    let d = switchyard_library::diff(&file_of(&from)?, &file_of(&to)?);
    Ok(Json(DiffReply { from: from.hash, to: to.hash, diff: d }))
}

/// Revision `seq` of `file`, made from `parent_file` (which says whether only the layout
/// changed), with `parents`.
fn next_revision(
    caller: &Caller,
    seq: i64,
    parent_file: &WorkflowFile,
    file: &WorkflowFile,
    parents: Vec<String>,
    message: String,
) -> RevisionRow {
    RevisionRow {
        seq,
        hash: revision_hash(file).to_string(),
        parents: serde_json::to_string(&parents).unwrap_or_else(|_| "[]".into()),
        author: author(caller),
        message,
        layout_only: i64::from(content_hash(file) == content_hash(parent_file)),
        created_at_ms: now_ms(),
        body: body_of(file),
    }
}

/// Parses and checks a push body as the server does, before any query. Public for the
/// fuzz targets.
pub fn check_push(body: &[u8]) -> Result<(PushRequest, WorkflowFile), ApiError> {
    let mut req: PushRequest = parse(body)?;
    let file = workflow_of(std::mem::take(&mut req.workflow))?;
    Ok((req, file))
}

/// `POST /v1/library/workflows/{id}/push`: fast-forwards when `base` is the head; else
/// merges the push with what landed since `base`, three-way. A conflict no choice settles
/// is a 409 naming each one; nothing is written.
pub(crate) async fn push(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<PushReply>), ApiError> {
    require(&caller, Permission::Edit)?;
    let (req, pushed) = check_push(&body)?;
    let pushed_hash = revision_hash(&pushed);
    for _ in 0..PUSH_TRIES {
        let w = live(&app, &caller, &id).await?;
        let head_row = head(&app, &caller, &w).await?;
        let head_file = file_of(&head_row)?;
        let base = revision(&app, &caller, &id, &req.base).await?;
        if base.hash == w.head {
            if pushed_hash.as_str() == w.head {
                return Ok(push_reply(&w, &head_row, false, Vec::new(), true));
            }
            let r =
                next_revision(&caller, w.head_seq + 1, &head_file, &pushed, vec![w.head.clone()], req.message.clone());
            if app.store.library_append(&caller.tenant, &id, w.head_seq, std::slice::from_ref(&r)).await?
                == Outcome::Done
            {
                let w = live(&app, &caller, &id).await?;
                return Ok(push_reply(&w, &r, false, Vec::new(), false));
            }
            continue;
        }
        let base_file = file_of(&base)?;
        let m = merge(&base_file, &pushed, &head_file, &req.choices);
        if !m.is_clean() {
            let details = ConflictDetails { head: w.head.clone(), conflicts: m.conflicts };
            let keys: Vec<&str> = details.conflicts.iter().map(|c| c.key.as_str()).collect();
            return Err(conflict("merge-conflict", format!("both sides changed {}", keys.join(", ")))
                .help("pick a side for each (`choices`: {key: ours | theirs}) and push again")
                .details(serde_json::to_value(&details).unwrap_or_default()));
        }
        if revision_hash(&m.file).as_str() == w.head {
            return Ok(push_reply(&w, &head_row, true, m.layout_kept, true));
        }
        // The push is kept as its own revision (made from its base), then merged with the
        // head: its edits stay in the history whatever the merge picked.
        let side =
            next_revision(&caller, w.head_seq + 1, &base_file, &pushed, vec![base.hash.clone()], req.message.clone());
        let message = format!("merge {} into {}", pushed_hash.short(), short(&w.head));
        let merged = next_revision(
            &caller,
            w.head_seq + 2,
            &head_file,
            &m.file,
            vec![w.head.clone(), side.hash.clone()],
            message,
        );
        if app.store.library_append(&caller.tenant, &id, w.head_seq, &[side, merged.clone()]).await? == Outcome::Done {
            let w = live(&app, &caller, &id).await?;
            return Ok(push_reply(&w, &merged, true, m.layout_kept, false));
        }
    }
    Err(conflict("busy", "the workflow kept changing while this push merged").help("push again"))
}

/// A push's or restore's reply: unchanged (200, the head as it was) or landed (201).
fn push_reply(
    w: &WorkflowRow,
    r: &RevisionRow,
    merged: bool,
    layout_kept: Vec<String>,
    unchanged: bool,
) -> (StatusCode, Json<PushReply>) {
    let status = if unchanged { StatusCode::OK } else { StatusCode::CREATED };
    let reply = PushReply { summary: summary(w), revision: revision_view(r), merged, layout_kept, unchanged };
    (status, Json(reply))
}

fn short(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

/// `POST /v1/library/workflows/{id}/restore`.
pub(crate) async fn restore(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<PushReply>), ApiError> {
    require(&caller, Permission::Edit)?;
    let req: RestoreRequest = parse(&body)?;
    for _ in 0..PUSH_TRIES {
        let w = live(&app, &caller, &id).await?;
        let old = revision(&app, &caller, &id, &req.revision).await?;
        let head_row = head(&app, &caller, &w).await?;
        if old.hash == w.head {
            return Ok(push_reply(&w, &head_row, false, Vec::new(), true));
        }
        let message = req.message.clone().unwrap_or_else(|| format!("restore {}", short(&old.hash)));
        let r = next_revision(
            &caller,
            w.head_seq + 1,
            &file_of(&head_row)?,
            &file_of(&old)?,
            vec![w.head.clone()],
            message,
        );
        if app.store.library_append(&caller.tenant, &id, w.head_seq, std::slice::from_ref(&r)).await? == Outcome::Done {
            let w = live(&app, &caller, &id).await?;
            return Ok(push_reply(&w, &r, false, Vec::new(), false));
        }
    }
    Err(conflict("busy", "the workflow kept changing while restoring").help("restore again"))
}

/// `POST /v1/library/workflows/{id}/move`.
pub(crate) async fn move_to(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<WorkflowSummary>, ApiError> {
    require(&caller, Permission::Edit)?;
    let req: MoveWorkflowRequest = parse(&body)?;
    check_path(&req.path)?;
    live(&app, &caller, &id).await?;
    match app.store.library_move(&caller.tenant, &id, &req.path, &author(&caller), now_ms()).await? {
        Outcome::PathTaken => {
            Err(conflict("path-taken", format!("the library already has a workflow at {}", req.path)))
        }
        Outcome::Missing | Outcome::Raced => {
            Err(ApiError::not_found(format!("no workflow {id} in this team's library")))
        }
        Outcome::Done => Ok(Json(summary(&any(&app, &caller, &id).await?))),
    }
}

/// `DELETE /v1/library/workflows/{id}`: soft; `undelete` brings it back.
pub(crate) async fn remove(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WorkflowSummary>, ApiError> {
    require(&caller, Permission::Edit)?;
    live(&app, &caller, &id).await?;
    app.store.library_set_deleted(&caller.tenant, &id, Some(now_ms())).await?;
    Ok(Json(summary(&any(&app, &caller, &id).await?)))
}

/// `POST /v1/library/workflows/{id}/undelete`.
pub(crate) async fn undelete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WorkflowSummary>, ApiError> {
    require(&caller, Permission::Edit)?;
    let w = any(&app, &caller, &id).await?;
    if w.deleted_at_ms.is_none() {
        return Ok(Json(summary(&w)));
    }
    match app.store.library_set_deleted(&caller.tenant, &id, None).await? {
        Outcome::PathTaken => Err(conflict("path-taken", format!("another workflow now lives at {}", w.path))
            .help("move or delete the workflow at that path first")),
        _ => Ok(Json(summary(&any(&app, &caller, &id).await?))),
    }
}
