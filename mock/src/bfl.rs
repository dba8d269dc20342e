//! Black Forest Labs: `POST /v1/{model}` with `x-key`, answered with `{id, polling_url, cost}`;
//! `GET polling_url` gives `Pending`, then `Ready` with `result.sample`, or a moderation
//! status. Validation errors are 422 `{detail:[{loc,msg,type}]}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::keys;
use crate::state::{Asset, Fault, Next, Stage, State, json_reply, shared_fault};

/// Polls a task answers `Pending` before it is `Ready`.
const PENDING_POLLS: u32 = 2;

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/v1/get_result", get(poll)).route("/v1/{model}", post(create))
}

fn unauthorised(headers: &HeaderMap) -> Option<Response> {
    let key = headers.get("x-key").and_then(|v| v.to_str().ok());
    (key != Some(keys::BFL)).then(|| {
        json_reply(StatusCode::FORBIDDEN, &[], json!({ "detail": "Not authenticated - Invalid Authentication" }))
    })
}

fn invalid(field: &str, msg: &str, kind: &str) -> Response {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &[],
        json!({ "detail": [{ "loc": ["body", field], "msg": msg, "type": kind }] }),
    )
}

/// A side's value, or the 422 BFL gives for it.
fn side(req: &Value, name: &str, max: u64) -> Result<u32, Box<Response>> {
    let v = req[name].as_u64().unwrap_or(1024);
    if !(256..=max).contains(&v) || !v.is_multiple_of(32) {
        return Err(Box::new(invalid(
            name,
            &format!("Input should be a multiple of 32 between 256 and {max}"),
            "value_error",
        )));
    }
    Ok(v as u32)
}

async fn create(Axum(st): Axum<Arc<State>>, Path(model): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = st.arrive("bfl.create", "POST", &format!("/v1/{model}"), &headers, &body);
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let max = match model.as_str() {
        "flux-pro-1.1" | "flux-dev" => 1440,
        "flux-2-pro" | "flux-2-max" => 2048,
        _ => return json_reply(StatusCode::NOT_FOUND, &[], json!({ "detail": "Not Found" })),
    };
    let fault = match shared_fault(fault, json!({ "detail": "Internal error" })).await {
        Next::Reply(r) => return r,
        Next::Continue(f) => f,
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return invalid("body", "JSON decode error", "json_invalid");
    };
    if req["prompt"].as_str().is_none_or(str::is_empty) {
        return invalid("prompt", "Field required", "missing");
    }
    let (w, h) = match (side(&req, "width", max), side(&req, "height", max)) {
        (Ok(w), Ok(h)) => (w, h),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let mp = (f64::from(w) * f64::from(h) / 1_048_576.0).ceil().max(1.0);
    let cost_cents = if model.starts_with("flux-2-pro") { 3.0 + 1.5 * (mp - 1.0) } else { 4.0 };
    let id = st.new_task("task", Asset::Png(w, h), PENDING_POLLS, &fault);
    let polling_url = format!("{}/bfl/v1/get_result?id={id}", st.base_url);
    json_reply(
        StatusCode::OK,
        &[],
        json!({ "id": id, "polling_url": polling_url, "cost": cost_cents, "input_mp": 0.0, "output_mp": mp }),
    )
}

async fn poll(
    Axum(st): Axum<Arc<State>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let id = q.get("id").cloned().unwrap_or_default();
    let fault = st.arrive("bfl.poll", "GET", &format!("/v1/get_result?id={id}"), &headers, &[]);
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let fault = match shared_fault(fault, json!({ "detail": "Internal error" })).await {
        Next::Reply(r) => return r,
        Next::Continue(f) => f,
    };
    if let Some(Fault::Moderated) = fault {
        return moderated(&id);
    }
    match st.poll_task(&id).map(|(stage, _)| stage) {
        None => json_reply(StatusCode::OK, &[], json!({ "id": id, "status": "Task not found", "result": null })),
        Some(Stage::Running(_) | Stage::Cancelled) => {
            json_reply(StatusCode::OK, &[], json!({ "id": id, "status": "Pending", "result": null, "progress": 0.5 }))
        }
        Some(Stage::Moderated) => moderated(&id),
        Some(Stage::Done) => {
            let sample = st.file_url(&id);
            let body =
                json!({ "id": id, "status": "Ready", "result": { "sample": sample, "seed": 42 }, "progress": 1.0 });
            json_reply(StatusCode::OK, &[], body)
        }
    }
}

fn moderated(id: &str) -> Response {
    let body = json!({ "id": id, "status": "Content Moderated", "result": null, "progress": null, "details": { "Moderation Reasons": ["Derivative Works Filter"] } });
    json_reply(StatusCode::OK, &[], body)
}
