//! `/history`, `/queue`, `/interrupt` and `/jobs`: the tenant's ComfyUI prompts, waiting,
//! running and ended, read and cancelled as ComfyUI's clients do.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::{ApiError, require};
use super::record::Record;
use crate::keys::{Caller, Permission};
use crate::store::{Cancelled, Phase};
use crate::{App, queue};

/// The most prompts one read returns (ComfyUI keeps 10,000 in all).
const PAGE_MAX: i64 = 10_000;
/// The ended phases.
const ENDED: [Phase; 3] = [Phase::Succeeded, Phase::Failed, Phase::Cancelled];

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Page {
    max_items: Option<i64>,
    offset: Option<i64>,
}

fn page(q: Result<Query<Page>, axum::extract::rejection::QueryRejection>) -> Result<(i64, i64), ApiError> {
    let Query(q) = q.map_err(super::super::bad_query)?;
    Ok((q.max_items.unwrap_or(PAGE_MAX).clamp(0, PAGE_MAX), q.offset.unwrap_or(0).max(0)))
}

async fn records(
    app: &App,
    tenant: &str,
    phases: &[Phase],
    newest: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<Record>, ApiError> {
    let rows = app.store.prompts(tenant, phases, newest, offset, limit).await?;
    Ok(rows.into_iter().map(|(p, r)| Record::new(p, r)).collect())
}

/// `GET /history?max_items&offset`: ended prompts by id, the newest `max_items`, oldest first.
pub(crate) async fn history(
    State(app): State<Arc<App>>,
    caller: Caller,
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<IndexMap<String, Value>>, ApiError> {
    let (limit, offset) = page(q)?;
    let mut ended = records(&app, &caller.tenant, &ENDED, true, offset, limit).await?;
    ended.reverse();
    Ok(Json(ended.iter().map(|r| (r.prompt.prompt_id.clone(), r.history(&app))).collect()))
}

/// `GET /history/{prompt_id}`: `{id: entry}` once it has ended, else `{}`.
pub(crate) async fn one(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IndexMap<String, Value>>, ApiError> {
    let found = app.store.prompt(&caller.tenant, &id).await?.map(|(p, r)| Record::new(p, r));
    let ended = found.filter(|r| ["succeeded", "failed", "cancelled"].contains(&r.run.state.as_str()));
    Ok(Json(ended.map(|r| (id, r.history(&app))).into_iter().collect()))
}

/// `POST /history` and `POST /queue` bodies: `{clear: true}` or `{delete: [ids]}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Clear {
    #[serde(default)]
    clear: bool,
    #[serde(default)]
    delete: Option<Vec<String>>,
}

fn clear_of(body: &[u8]) -> Result<Clear, ApiError> {
    if body.is_empty() {
        return Ok(Clear::default());
    }
    super::super::runs::parse(body)
}

/// `POST /history`: clears ended prompts from the history (their runs stay).
pub(crate) async fn clear(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    let c = clear_of(&body)?;
    if c.clear {
        app.store.hide_prompts(&caller.tenant, None).await?;
    }
    if let Some(ids) = &c.delete {
        app.store.hide_prompts(&caller.tenant, Some(ids)).await?;
    }
    Ok(StatusCode::OK)
}

/// `GET /queue`: `{queue_running, queue_pending}`, each a list of queue entries.
pub(crate) async fn queue(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let running = records(&app, &caller.tenant, &[Phase::Running], false, 0, PAGE_MAX).await?;
    let pending = records(&app, &caller.tenant, &[Phase::Pending], false, 0, PAGE_MAX).await?;
    let entries = |list: &[Record]| list.iter().map(|r| r.queue_entry(&app)).collect::<Vec<_>>();
    Ok(Json(json!({ "queue_running": entries(&running), "queue_pending": entries(&pending) })))
}

/// Cancels the tenant's prompt `id`: a waiting one ends, a running one is stopped.
async fn cancel(app: &App, tenant: &str, id: &str) -> Result<bool, ApiError> {
    let Some((prompt, _)) = app.store.prompt(tenant, id).await? else { return Ok(false) };
    if app.store.cancel(tenant, &prompt.run).await? == Some(Cancelled::Requested) {
        queue::stop(app, &prompt.run);
    }
    Ok(true)
}

/// `POST /queue`: `{clear: true}` cancels every waiting prompt; `{delete: [ids]}` those named.
pub(crate) async fn change_queue(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    let c = clear_of(&body)?;
    let mut ids = c.delete.unwrap_or_default();
    if c.clear {
        let pending = records(&app, &caller.tenant, &[Phase::Pending], false, 0, PAGE_MAX).await?;
        ids.extend(pending.into_iter().map(|r| r.prompt.prompt_id));
    }
    for id in ids {
        let waiting = app.store.prompt(&caller.tenant, &id).await?.is_some_and(|(_, r)| r.state != "running");
        if waiting {
            cancel(&app, &caller.tenant, &id).await?;
        }
    }
    Ok(StatusCode::OK)
}

/// `POST /interrupt` (optionally `{prompt_id}`): stops the tenant's running prompt, or all
/// of them. Other tenants' work is never touched.
pub(crate) async fn interrupt(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    #[derive(Deserialize)]
    struct Asked {
        prompt_id: Option<String>,
    }
    let asked: Option<String> = match body.is_empty() {
        true => None,
        false => super::super::runs::parse::<Asked>(&body)?.prompt_id,
    };
    let running = records(&app, &caller.tenant, &[Phase::Running], false, 0, PAGE_MAX).await?;
    for r in running.iter().filter(|r| asked.as_ref().is_none_or(|id| *id == r.prompt.prompt_id)) {
        cancel(&app, &caller.tenant, &r.prompt.prompt_id).await?;
    }
    Ok(StatusCode::OK)
}

/// ComfyUI's job states, as `/jobs?status=` names them.
fn phase_of(status: &str) -> Option<Phase> {
    Some(match status {
        "pending" => Phase::Pending,
        "in_progress" => Phase::Running,
        "completed" => Phase::Succeeded,
        "failed" => Phase::Failed,
        "cancelled" => Phase::Cancelled,
        _ => return None,
    })
}

fn status_of(state: &str) -> &'static str {
    match state {
        "running" => "in_progress",
        "succeeded" => "completed",
        "failed" => "failed",
        "cancelled" => "cancelled",
        _ => "pending",
    }
}

/// A job as `/jobs` lists it.
fn job(app: &App, r: &Record) -> Value {
    let outputs = r.outputs(app);
    let preview = outputs.iter().find_map(|(node, o)| {
        let (file, media) = match (o.images.first(), o.video.first(), o.audio.first()) {
            (Some(f), _, _) => (f, "images"),
            (_, Some(f), _) => (f, "video"),
            (_, _, Some(f)) => (f, "audio"),
            _ => return None,
        };
        Some(json!({
            "filename": file.filename, "subfolder": file.subfolder, "type": file.kind,
            "nodeId": node, "mediaType": media,
        }))
    });
    let count: usize = outputs.values().map(|o| o.count()).sum();
    let error = r.failure().filter(|_| r.run.state == "failed").map(|f| r.error_data(&f));
    json!({
        "id": r.prompt.prompt_id,
        "status": status_of(&r.run.state),
        "create_time": r.run.submitted_at_ms,
        "execution_start_time": r.run.started_at_ms,
        "execution_end_time": r.run.finished_at_ms,
        "preview_output": preview,
        "outputs_count": count,
        "previewable_outputs_count": count,
        "execution_error": error,
        "workflow_id": null,
        "priority": r.prompt.number,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct JobsQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /jobs?status=a,b&limit&offset`: the tenant's prompts as ComfyUI's jobs, newest first.
pub(crate) async fn jobs(
    State(app): State<Arc<App>>,
    caller: Caller,
    q: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(super::super::bad_query)?;
    let all = "pending,in_progress,completed,failed,cancelled".to_string();
    let mut phases = Vec::new();
    for s in q.status.unwrap_or(all).split(',').filter(|s| !s.is_empty()) {
        let phase = phase_of(s).ok_or_else(|| {
            ApiError::bad_request("bad-query", format!("no job status {s:?}"))
                .help("the statuses are pending, in_progress, completed, failed and cancelled")
        })?;
        phases.push(phase);
    }
    let limit = q.limit.unwrap_or(200).clamp(1, PAGE_MAX);
    let offset = q.offset.unwrap_or(0).max(0);
    let total = app.store.count_prompts(&caller.tenant, &phases).await?;
    let list = records(&app, &caller.tenant, &phases, true, offset, limit).await?;
    let jobs: Vec<Value> = list.iter().map(|r| job(&app, r)).collect();
    let pagination =
        json!({ "offset": offset, "limit": limit, "total": total, "has_more": offset + (jobs.len() as i64) < total });
    Ok(Json(json!({ "jobs": jobs, "pagination": pagination })))
}

/// `GET /jobs/{id}`: one job, with its outputs and the workflow it was posted with.
pub(crate) async fn job_detail(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (p, r) =
        app.store.prompt(&caller.tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let r = Record::new(p, r);
    let mut detail = job(&app, &r);
    let extra: Value = serde_json::from_str(&r.prompt.extra_data).unwrap_or_default();
    let prompt: Value = serde_json::from_str(&r.prompt.prompt).unwrap_or_default();
    detail["workflow"] = json!({ "prompt": prompt, "extra_data": extra });
    detail["outputs"] = serde_json::to_value(r.outputs(&app)).unwrap_or_default();
    detail["update_time"] = json!(r.run.finished_at_ms.or(r.run.started_at_ms).unwrap_or(r.run.submitted_at_ms));
    Ok(Json(detail))
}

/// `POST /jobs/{id}/cancel`.
pub(crate) async fn cancel_job(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    match cancel(&app, &caller.tenant, &id).await? {
        true => Ok(StatusCode::OK),
        false => Err(ApiError::not_found(format!("no job {id}"))),
    }
}
