//! The worker protocol, `/v1/farm/work/…`, for workers that join through the server's URL
//! with a worker key (`switchyard worker --server URL`) because they may not reach the
//! farm's database. Each call does what a worker on the database does, on the same queue:
//! every call about a task names its lease, and a lost lease is refused (409 `lease-lost`),
//! so a stale worker can no more complete a task here than there. The ledger steps of a
//! task's paid calls are taken here with the task's wallet and reservation. Frames go out
//! by content hash; files come back by hash into the artifact store. Server or database
//! trouble answers 503, which a worker waits out.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;

use super::runs::parse;
use super::{ApiError, BODY_MAX_BYTES, require};
use crate::App;
use crate::keys::{Caller, Permission};
use switchyard_session::farm::{
    ArtifactError, ClaimRequest, CompleteRequest, Farm, FarmError, Lease, Leases, LostRequest, PreviewRequest,
    RenewRequest, Renewed, SpendRequest, StoredPreview, TaskIds, TaskRef, Worker, WorkerRef, spend_step, task_input,
    task_view,
};

/// Where the protocol lives, under `/v1`.
const PREFIX: &str = "/farm/work/";
/// The largest file a worker may send back.
pub(crate) const BLOB_MAX_BYTES: usize = 256 << 20;
/// The most tasks one claim may take, and one lost-lease check may name.
const CLAIM_MAX: u32 = 64;
const LOST_MAX: usize = 1_024;
/// Limits on what a worker says of itself.
const WORKER_LIST_MAX: usize = 64;

/// Whether `path` (under `/v1` or not) is one of the protocol's.
pub(crate) fn is_work_path(path: &str) -> bool {
    path.strip_prefix("/v1").unwrap_or(path).starts_with(PREFIX)
}

/// The routes (not in the tenant API's document: the operator's workers speak this).
pub(crate) fn routes() -> Router<Arc<App>> {
    let json = |route: MethodRouter<Arc<App>>| route.layer(RequestBodyLimitLayer::new(BODY_MAX_BYTES));
    Router::new()
        .route("/farm/work/register", json(post(register)))
        .route("/farm/work/heartbeat", json(post(heartbeat)))
        .route("/farm/work/claim", json(post(claim)))
        .route("/farm/work/renew", json(post(renew)))
        .route("/farm/work/lost", json(post(lost)))
        .route("/farm/work/complete", json(post(complete)))
        .route("/farm/work/task", json(post(task)))
        .route("/farm/work/input", axum::routing::get(input))
        .route("/farm/work/preview", json(post(preview)))
        .route("/farm/work/spend", json(post(spend)))
        .route(
            "/farm/work/cache/{key}",
            axum::routing::get(get_cache).put(put_cache).layer(RequestBodyLimitLayer::new(BLOB_MAX_BYTES)),
        )
        .route(
            "/farm/work/blobs/{hash}",
            put(put_blob).head(has_blob).layer(RequestBodyLimitLayer::new(BLOB_MAX_BYTES)),
        )
}

fn farm(app: &App, caller: &Caller) -> Result<Farm, ApiError> {
    require(caller, Permission::Work)?;
    app.farm.clone().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no-farm", "this server is not a render farm's front door")
            .help("start it with `switchyard serve --database postgres://… --farm`")
    })
}

/// The farm's errors as replies: a lost lease is 409; the database away is 503.
fn farm_error(e: FarmError) -> ApiError {
    match e {
        FarmError::LeaseLost { task } => lease_lost(task),
        FarmError::Database(_) | FarmError::Ledger(_) | FarmError::Unreachable(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "farm-database", e.to_string())
                .help("the farm's database did not answer; try again")
        }
        e => ApiError::new(StatusCode::CONFLICT, "farm-refused", e.to_string()),
    }
}

fn lease_lost(task: i64) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "lease-lost", format!("task {task}: the lease is no longer held"))
        .help("stop the task and report nothing; it was taken back, cancelled or paused")
}

/// The lease `at` names, while it is held.
async fn held(farm: &Farm, at: &TaskRef) -> Result<Lease, ApiError> {
    farm.lease(at.task, &at.token).await.map_err(farm_error)?.ok_or_else(|| lease_lost(at.task))
}

fn ok() -> Json<Value> {
    Json(json!({}))
}

/// A worker's self-description, kept plain and bounded.
fn check_worker(w: &Worker) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::bad_request("bad-worker", m);
    crate::keys::check_name("worker id", &w.id).map_err(bad)?;
    let lists = [&w.gpu_brands, &w.onnx_providers, &w.tags];
    if lists.iter().any(|l| l.len() > WORKER_LIST_MAX || l.iter().any(|t| t.is_empty() || t.len() > 64)) {
        return Err(bad(format!(
            "gpu_brands, onnx_providers and tags hold at most {WORKER_LIST_MAX} names of 1 to 64 bytes"
        )));
    }
    if !(1..=1024).contains(&w.slots) || !w.memory_gb.is_finite() || w.memory_gb < 0.0 || w.host.len() > 255 {
        return Err(bad("slots is 1 to 1024, memory_gb a finite, non-negative number, host at most 255 bytes".into()));
    }
    Ok(())
}

/// Parses and checks a worker protocol body for `endpoint` (`claim`, `complete`, …) as its
/// handler does before touching the farm: the fuzz target's entry.
pub fn check_work_body(endpoint: &str, body: &[u8]) -> Result<(), ApiError> {
    match endpoint {
        "register" => check_worker(&parse::<Worker>(body)?),
        "claim" => check_worker(&parse::<ClaimRequest>(body)?.worker),
        "heartbeat" => parse::<WorkerRef>(body).map(drop),
        "renew" => parse::<RenewRequest>(body).map(drop),
        "lost" => check_lost(&parse::<LostRequest>(body)?),
        "complete" => check_outputs(&parse::<CompleteRequest>(body)?),
        "task" => parse::<TaskRef>(body).map(drop),
        "preview" => decode_png(&parse::<PreviewRequest>(body)?).map(drop),
        "spend" => parse::<SpendRequest>(body).map(drop),
        _ => Err(ApiError::not_found(format!("no worker call {endpoint:?}"))),
    }
}

fn check_lost(req: &LostRequest) -> Result<(), ApiError> {
    match req.tasks.len() <= LOST_MAX {
        true => Ok(()),
        false => Err(ApiError::bad_request("bad-field", format!("name at most {LOST_MAX} tasks"))),
    }
}

/// Each reported file's name is a plain relative path.
fn check_outputs(req: &CompleteRequest) -> Result<(), ApiError> {
    match req.outputs.iter().find(|o| !super::farm::plain_path(&o.name)) {
        None => Ok(()),
        Some(o) => {
            Err(ApiError::bad_request("bad-output", format!("output {:?} is not a plain relative name", o.name)))
        }
    }
}

fn decode_png(req: &PreviewRequest) -> Result<Vec<u8>, ApiError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(req.png_base64.as_bytes())
        .map_err(|e| ApiError::bad_request("bad-preview", format!("png_base64: {e}")))
}

async fn register(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let farm = farm(&app, &caller)?;
    let worker: Worker = parse(&body)?;
    check_worker(&worker)?;
    farm.register(&worker).await.map_err(farm_error)?;
    tracing::info!(worker = %worker.id, key_id = %caller.key_id, "a remote worker registered");
    Ok(ok())
}

async fn heartbeat(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: WorkerRef = parse(&body)?;
    Ok(Json(json!({ "known": farm.heartbeat(&req.worker).await.map_err(farm_error)? })))
}

async fn claim(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Leases>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: ClaimRequest = parse(&body)?;
    check_worker(&req.worker)?;
    let n = req.n.min(CLAIM_MAX);
    let leases = farm.claim(&req.worker, n, req.lease_ms.clamp(1_000, 3_600_000)).await.map_err(farm_error)?;
    Ok(Json(Leases { leases }))
}

async fn renew(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Renewed>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: RenewRequest = parse(&body)?;
    let lease = held(&farm, &req.lease).await?;
    let expires_at_ms = farm.renew(&lease, req.lease_ms.clamp(1_000, 3_600_000)).await.map_err(farm_error)?;
    Ok(Json(Renewed { expires_at_ms }))
}

async fn lost(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<TaskIds>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: LostRequest = parse(&body)?;
    check_lost(&req)?;
    Ok(Json(TaskIds { tasks: farm.lost_leases(&req.worker, &req.tasks).await.map_err(farm_error)? }))
}

/// Records how a task ended, with the files it wrote; each must already be in the store.
async fn complete(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: CompleteRequest = parse(&body)?;
    check_outputs(&req)?;
    let lease = held(&farm, &req.lease).await?;
    let store = app.artifacts.as_ref().ok_or_else(no_store)?;
    for output in &req.outputs {
        if !store.has(&output.hash).await.map_err(store_error)? {
            let message = format!("output {:?} was not sent by hash first", output.name);
            return Err(ApiError::bad_request("bad-output", message)
                .help("PUT each file to /v1/farm/work/blobs/HASH before reporting it"));
        }
    }
    farm.complete_with(&lease, &req.outcome, &req.outputs).await.map_err(farm_error)?;
    Ok(ok())
}

/// The leased task's run and frames (by hash), with its lease.
async fn task(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let farm = farm(&app, &caller)?;
    let at: TaskRef = parse(&body)?;
    let lease = held(&farm, &at).await?;
    let view = task_view(&farm, &lease).await.map_err(farm_error)?;
    Ok(Json(json!({ "lease": lease, "view": view })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputQuery {
    task: i64,
    token: String,
    item: usize,
}

/// Frame `item` of a leased task, streamed.
async fn input(
    State(app): State<Arc<App>>,
    caller: Caller,
    query: Result<Query<InputQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let farm = farm(&app, &caller)?;
    let Query(q) = query.map_err(super::bad_query)?;
    let lease = held(&farm, &TaskRef { task: q.task, token: q.token }).await?;
    let path = task_input(&farm, &lease, q.item).await.map_err(farm_error)?;
    let path = path.ok_or_else(|| ApiError::not_found(format!("task {} has no frame {}", q.task, q.item)))?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| farm_error(FarmError::Corrupt(e.to_string())))?;
    app.metrics.farm_inputs_sent.fetch_add(1, Ordering::Relaxed);
    Ok(axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response())
}

async fn preview(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: PreviewRequest = parse(&body)?;
    let png = decode_png(&req)?;
    let lease = held(&farm, &req.lease).await?;
    let preview = StoredPreview {
        item: req.item,
        node: req.node,
        port: req.port,
        width: req.width,
        height: req.height,
        source_width: req.source_width,
        source_height: req.source_height,
        png,
    };
    // Oversized or too frequent previews are dropped by the farm, as a database worker's are.
    farm.put_preview(&lease.run_id, &preview).await.map_err(farm_error)?;
    Ok(ok())
}

/// A ledger step of a leased task's paid call.
async fn spend(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let farm = farm(&app, &caller)?;
    let req: SpendRequest = parse(&body)?;
    let lease = held(&farm, &req.lease).await?;
    match spend_step(&farm, &lease, &req.step).await {
        Ok(spent) => Ok(Json(json!(spent))),
        Err(e) if !e.is_final() => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ledger-unavailable", e.to_string()))
        }
        Err(e) => Err(ApiError::new(StatusCode::CONFLICT, "ledger-refused", e.to_string())),
    }
}

fn no_store() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no-artifact-store", "the server keeps no artifact store")
}

fn store_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "artifact-store", e.to_string())
}

/// `HEAD`: whether the store has content `hash` (a worker sends only what is missing).
async fn has_blob(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<StatusCode, ApiError> {
    farm(&app, &caller)?;
    let store = app.artifacts.as_ref().ok_or_else(no_store)?;
    Ok(match store.has(&hash).await.map_err(store_error)? {
        true => StatusCode::OK,
        false => StatusCode::NOT_FOUND,
    })
}

/// `PUT`: content whose BLAKE3 hash is `hash`, into the store.
async fn put_blob(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    farm(&app, &caller)?;
    let store = app.artifacts.as_ref().ok_or_else(no_store)?;
    if blake3::hash(&body).to_hex().as_str() != hash {
        return Err(ApiError::bad_request("bad-hash", "the body's BLAKE3 hash is not the one in the path")
            .help("send the file's bytes to /v1/farm/work/blobs/ its lowercase hex BLAKE3 hash"));
    }
    store.put_bytes(&hash, body.to_vec()).await.map_err(store_error)?;
    app.metrics.farm_blobs_received.fetch_add(1, Ordering::Relaxed);
    Ok(ok())
}

/// A shared cache entry (the engine's encoding; it checks its own checksum when read).
async fn get_cache(State(app): State<Arc<App>>, caller: Caller, Path(key): Path<String>) -> Result<Response, ApiError> {
    farm(&app, &caller)?;
    let store = app.artifacts.as_ref().ok_or_else(no_store)?;
    match store.get_cache(&key).await.map_err(store_error)? {
        Some(bytes) => Ok(bytes.into_response()),
        None => Err(ApiError::not_found(format!("no cache entry {key}"))),
    }
}

/// Keeps a shared cache entry for other workers.
async fn put_cache(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    farm(&app, &caller)?;
    let store = app.artifacts.as_ref().ok_or_else(no_store)?;
    store.put_cache(&key, body.to_vec()).await.map_err(|e| match e {
        ArtifactError::Address(why) => ApiError::bad_request("bad-cache-key", why),
        e => store_error(e),
    })?;
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str) -> Value {
        json!({ "id": id, "host": "h", "slots": 2, "memory_gb": 16.0, "gpu_brands": ["nvidia"],
            "onnx_providers": [], "tags": ["licensed-nuke"] })
    }

    #[test]
    fn worker_calls_are_checked_before_they_reach_the_farm() {
        let lease = json!({ "task": 7, "token": "t" });
        let output = |name: &str| json!({ "name": name, "item": null, "hash": "a".repeat(64), "bytes": 1 });
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            ("register", worker("w1"), None),
            ("register", worker("../etc"), Some("bad-worker")),
            ("claim", json!({ "worker": worker("w1"), "n": 2, "lease_ms": 1000 }), None),
            ("claim", json!({ "worker": worker("w1"), "n": 2 }), Some("bad-body")),
            (
                "claim",
                json!({ "worker": { "id": "w1", "host": "h", "slots": 0, "memory_gb": 1.0, "gpu_brands": [],
                "onnx_providers": [], "tags": [] }, "n": 1, "lease_ms": 1 }),
                Some("bad-worker"),
            ),
            ("lost", json!({ "worker": "w1", "tasks": vec![1; LOST_MAX + 1] }), Some("bad-field")),
            ("complete", json!({ "lease": lease, "outcome": "done", "outputs": [output("a/b.png")] }), None),
            (
                "complete",
                json!({ "lease": lease, "outcome": "done", "outputs": [output("../b.png")] }),
                Some("bad-output"),
            ),
            ("complete", json!({ "lease": lease, "outcome": { "failed": "why" }, "outputs": [] }), None),
            ("spend", json!({ "lease": lease, "step": { "void": { "hold": "h", "key": "k" } } }), None),
            ("spend", json!({ "lease": lease, "step": { "wallet": "someone-else" } }), Some("bad-body")),
            (
                "preview",
                json!({ "lease": lease, "item": null, "node": "n", "port": "image", "width": 1, "height": 1,
                "source_width": 1, "source_height": 1, "png_base64": "!!" }),
                Some("bad-preview"),
            ),
            ("task", json!({ "task": 7, "token": "t", "extra": 1 }), Some("bad-body")),
            ("nope", json!({}), Some("not-found")),
        ];
        for (call, body, want) in cases {
            let got = check_work_body(call, body.to_string().as_bytes()).err().map(|e| e.code);
            assert_eq!(got, want, "{call}: {body}");
        }
    }

    #[test]
    fn only_the_worker_protocol_paths_are_work_paths() {
        for (path, want) in [
            ("/farm/work/claim", true),
            ("/v1/farm/work/claim", true),
            ("/farm/runs", false),
            ("/v1/runs", false),
            ("/v1/farm/workers", false),
        ] {
            assert_eq!(is_work_path(path), want, "{path}");
        }
    }
}
