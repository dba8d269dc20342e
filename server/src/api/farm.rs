//! The render farm's front door (`serve --farm`): a batch run over uploaded files is
//! validated, priced and queued here, and executed by `switchyard worker`s; its tasks'
//! events arrive on `/v1/events` (`task`), its files are listed and downloaded by name, from
//! the artifact store the workers keep them in (`--artifacts`) or else from its folder.
//! Every query names the caller's tenant: another tenant's farm run is not found.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::runs::parse;
use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission};
use crate::protocol::{
    FarmCancelReply, FarmFile, FarmFileList, FarmRunPage, FarmRunSummary, FarmRunView, FarmSubmitRequest, FarmTaskView,
};
use crate::queue::wallet_of;
use switchyard_session::farm::{Farm, FarmRun, Payer, Submission, TaskRow};
use switchyard_session::placement::PlacementOptions;

/// The most frames one request may name.
const FILES_MAX: usize = 100_000;
/// The most frames a task.
const CHUNK_MAX: u32 = 10_000;
/// The most attempts a task may get.
const ATTEMPTS_MAX: u32 = 20;
/// The most files a listing names.
const LISTED_MAX: usize = 100_000;

fn no_farm() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no-farm", "this server is not a render farm's front door")
        .help("start it with `switchyard serve --database postgres://… --farm`")
}

fn farm(app: &App) -> Result<&Farm, ApiError> {
    app.farm.as_ref().ok_or_else(no_farm)
}

fn failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "farm-database", e.to_string())
}

/// An upload path as `/v1/uploads` gives it: one plain file name.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A file's name under a run's output folder: plain names joined by `/` (subfolders), at
/// most 16 deep.
pub(crate) fn plain_path(name: &str) -> bool {
    name.len() <= 1024 && name.split('/').count() <= 16 && name.split('/').all(plain_name)
}

/// Parses a farm run's request and checks what needs no store: 1 to 100,000 files, each
/// a plain upload name, and `chunk` and `max_attempts` in range.
pub fn check_farm_submit(body: &[u8]) -> Result<FarmSubmitRequest, ApiError> {
    let req: FarmSubmitRequest = parse(body)?;
    let bad = |m: String| ApiError::bad_request("bad-field", m);
    if req.files.is_empty() || req.files.len() > FILES_MAX {
        return Err(bad(format!("`files` names 1 to {FILES_MAX} uploads, not {}", req.files.len())));
    }
    if let Some(name) = req.files.iter().find(|name| !plain_name(name)) {
        return Err(no_upload(name));
    }
    match (&req.template, req.workflow.is_object()) {
        (None, false) => {
            return Err(
                bad("send a workflow (a workflow file's JSON object) or a template (team/name@version)".into()),
            );
        }
        (Some(_), _) if !req.workflow.is_null() => return Err(bad("send a workflow or a template, not both".into())),
        _ => {}
    }
    let (chunk, attempts) = (req.chunk.unwrap_or(10), req.max_attempts.unwrap_or(3));
    if !(1..=CHUNK_MAX).contains(&chunk) || !(1..=ATTEMPTS_MAX).contains(&attempts) {
        return Err(bad(format!("`chunk` is 1 to {CHUNK_MAX} and `max_attempts` 1 to {ATTEMPTS_MAX}")));
    }
    Ok(req)
}

fn no_upload(name: &str) -> ApiError {
    ApiError::bad_request("bad-file", format!("no upload {name:?}"))
        .help("upload each frame with POST /v1/uploads and name it by the `path` it answers")
}

/// `POST /v1/farm/runs`.
pub(crate) async fn submit(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    require(&caller, Permission::Run)?;
    let farm = farm(&app)?;
    let mut req = check_farm_submit(&body)?;
    super::library::resolve_for_farm(&app, &caller, &mut req).await?;
    let uploads = app.uploads(&caller.tenant);
    if let Some(name) = req.files.iter().find(|name| !uploads.join(name).is_file()) {
        return Err(no_upload(name));
    }
    let (chunk, max_attempts) = (req.chunk.unwrap_or(10), req.max_attempts.unwrap_or(3));
    let member = super::runs::member_of_farm(&caller, req.member.as_ref())?;
    let id = FarmRun::new_id();
    let out = app.data.join("farm").join(&caller.tenant).join(&id);
    std::fs::create_dir_all(&out).map_err(crate::ServerError::Io)?;
    let text = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let run = FarmRun {
        id: id.clone(),
        workflow: req.workflow.to_string(),
        input_root: text(&uploads),
        out_dir: text(&out),
        bind: req.bind.clone(),
        files: req.files.iter().map(|f| text(&uploads.join(f))).collect(),
        overrides: req.set.clone(),
        billing: None,
        tenant: Some(caller.tenant.clone()),
        names: req.names.clone(),
    };
    let sub = Submission {
        chunk,
        max_attempts,
        priority: req.priority.clamp(-100, 100),
        placement: PlacementOptions {
            policy: req.policy.clone().unwrap_or_else(|| "cheapest".into()),
            ..Default::default()
        },
        payer: Payer {
            account: req.account.as_deref().map(|a| wallet_of(&caller.tenant, a)),
            member,
            budget: req.budget,
        },
    };
    let inputs = app.inputs(&caller.tenant);
    let queued =
        switchyard_session::farm::submit(farm, &app.registry, &app.catalog, &app.onnx, &inputs, run, &sub).await;
    let queued = match queued {
        Ok(queued) => queued,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&out);
            return Err(super::runs::refused(crate::queue::Refusal::Session(e)));
        }
    };
    tracing::info!(run = %id, tenant = %caller.tenant, frames = queued.run.files.len(), tasks = queued.tasks, "farm run queued");
    let view = view(&queued.run, &farm.tasks(&id).await.map_err(failed)?);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /v1/farm/runs?limit=&cursor=`: the tenant's farm runs, newest first.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<FarmRunPage>, ApiError> {
    let Query(q) = query.map_err(super::bad_query)?;
    let limit = q.limit.unwrap_or(50).clamp(1, PAGE_MAX);
    let runs = farm(&app)?.runs_of(&caller.tenant, q.cursor.as_deref(), limit).await.map_err(failed)?;
    let next_cursor = (runs.len() as i64 == limit).then(|| runs.last().map(|r| r.id.clone())).flatten();
    let runs = runs
        .into_iter()
        .map(|r| {
            let counts: BTreeMap<String, u64> = r.counts.into_iter().map(|(s, n)| (s, n.max(0) as u64)).collect();
            FarmRunSummary { state: state_of(&counts).into(), id: r.id, frames: r.frames, account: r.account, counts }
        })
        .collect();
    Ok(Json(FarmRunPage { runs, next_cursor }))
}

/// A page's query.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The most runs a page holds.
const PAGE_MAX: i64 = 200;

/// `GET /v1/farm/runs/{id}`.
pub(crate) async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FarmRunView>, ApiError> {
    let farm = farm(&app)?;
    let run = owned(farm, &caller, &id).await?;
    Ok(Json(view(&run, &farm.tasks(&id).await.map_err(failed)?)))
}

/// `POST /v1/farm/runs/{id}/cancel`: its waiting and running tasks stop (running ones within
/// a second), and no paid call of it starts from now.
pub(crate) async fn cancel(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FarmCancelReply>, ApiError> {
    require(&caller, Permission::Run)?;
    let farm = farm(&app)?;
    owned(farm, &caller, &id).await?;
    let cancelled_tasks = farm.cancel_run(&id).await.map_err(failed)?;
    Ok(Json(FarmCancelReply { id, cancelled_tasks }))
}

/// `POST /v1/farm/runs/{id}/pause`: nothing of it starts, and its running tasks stop within
/// a second and wait, their attempts not counted.
pub(crate) async fn pause(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FarmRunView>, ApiError> {
    change(&app, &caller, &id, Change::Pause).await
}

/// `POST /v1/farm/runs/{id}/resume`.
pub(crate) async fn resume(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FarmRunView>, ApiError> {
    change(&app, &caller, &id, Change::Resume).await
}

/// `POST /v1/farm/runs/{id}/priority`: the priority of its tasks that have not started.
pub(crate) async fn priority(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<FarmRunView>, ApiError> {
    let req: crate::protocol::PriorityRequest = parse(&body)?;
    change(&app, &caller, &id, Change::Priority(req.priority.clamp(-100, 100))).await
}

/// A change to a farm run's tasks.
enum Change {
    Pause,
    Resume,
    Priority(i64),
}

async fn change(app: &App, caller: &Caller, id: &str, what: Change) -> Result<Json<FarmRunView>, ApiError> {
    require(caller, if matches!(what, Change::Priority(_)) { Permission::Queue } else { Permission::Run })?;
    let farm = farm(app)?;
    let run = owned(farm, caller, id).await?;
    match what {
        Change::Pause => farm.pause_run(id).await,
        Change::Resume => farm.resume_run(id).await,
        Change::Priority(p) => farm.set_priority(id, p).await,
    }
    .map_err(failed)?;
    Ok(Json(view(&run, &farm.tasks(id).await.map_err(failed)?)))
}

/// `GET /v1/farm/runs/{id}/files`.
pub(crate) async fn files(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FarmFileList>, ApiError> {
    let farm = farm(&app)?;
    let run = owned(farm, &caller, &id).await?;
    let kept = farm.outputs(&id).await.map_err(failed)?;
    if !kept.is_empty() {
        let files = kept
            .into_iter()
            .take(LISTED_MAX)
            .map(|o| FarmFile {
                url: format!("/v1/farm/runs/{id}/files/{}", o.name),
                name: o.name,
                bytes: o.bytes.max(0) as u64,
            })
            .collect();
        return Ok(Json(FarmFileList { files }));
    }
    let mut files = Vec::new();
    if let Ok(dir) = std::fs::read_dir(&run.out_dir) {
        for entry in dir.flatten().take(LISTED_MAX) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() && plain_name(&name) {
                let url = format!("/v1/farm/runs/{id}/files/{name}");
                files.push(FarmFile { name, bytes: meta.len(), url });
            }
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(FarmFileList { files }))
}

/// `GET /v1/farm/runs/{id}/files/{name}`.
pub(crate) async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let farm = farm(&app)?;
    let run = owned(farm, &caller, &id).await?;
    let missing = || ApiError::not_found(format!("run {id} wrote no {name:?}"));
    if !plain_path(&name) {
        return Err(missing());
    }
    let kept = farm.outputs(&id).await.map_err(failed)?;
    if let (Some(output), Some(store)) = (kept.iter().find(|o| o.name == name), &app.artifacts) {
        let bytes = store.get(&output.hash).await.map_err(failed)?.ok_or_else(missing)?;
        let media = crate::outputs::media_type(&name);
        let content_type = HeaderValue::from_str(media).unwrap_or(HeaderValue::from_static("application/octet-stream"));
        return Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response());
    }
    let path = std::path::Path::new(&run.out_dir).join(&name);
    let file = tokio::fs::File::open(&path).await.map_err(|_| missing())?;
    let len = file.metadata().await.map_err(|_| missing())?.len();
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = response.headers_mut();
    let media = crate::outputs::media_type(&name);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(response)
}

/// The caller's tenant's run `id`, or 404 (another tenant's run is not found either).
async fn owned(farm: &Farm, caller: &Caller, id: &str) -> Result<FarmRun, ApiError> {
    farm.run_of(&caller.tenant, id)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::not_found(format!("no farm run {id}")))
}

fn view(run: &FarmRun, tasks: &[TaskRow]) -> FarmRunView {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for t in tasks {
        *counts.entry(t.state.clone()).or_default() += 1;
    }
    let state = state_of(&counts);
    let tasks = tasks
        .iter()
        .map(|t| FarmTaskView {
            task: t.seq,
            from: t.item_from,
            to: t.item_to,
            state: t.state.clone(),
            attempts: t.attempts,
            worker: t.leased_by.clone(),
            error: t.last_error.clone(),
        })
        .collect();
    FarmRunView {
        id: run.id.clone(),
        state: state.into(),
        frames: run.files.len(),
        account: run.billing.as_ref().map(|b| b.account.clone()),
        frame_most_credits: run.billing.as_ref().map_or(0, |b| b.item_most),
        counts,
        tasks,
    }
}

/// A run's state from its tasks' states.
fn state_of(counts: &BTreeMap<String, u64>) -> &'static str {
    let all: u64 = counts.values().sum();
    let n = |s: &str| counts.get(s).copied().unwrap_or(0);
    if n("cancelled") > 0 {
        "cancelled"
    } else if n("paused") > 0 {
        "paused"
    } else if n("failed") > 0 {
        "failed"
    } else if n("done") == all {
        "done"
    } else if n("leased") + n("done") > 0 {
        "running"
    } else {
        "queued"
    }
}
