//! Luma Dream Machine: `POST /dream-machine/v1/generations/image` (bearer) answers 201 with a
//! generation; `GET /dream-machine/v1/generations/{id}` goes `queued`, `dreaming`, then
//! `completed` with `assets.image` (a JPEG); `DELETE` cancels. Errors are `{detail}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::keys;
use crate::state::{Asset, Stage, State, bearer_is, gate, json_body, json_reply, size_for_ratio};

const RATIOS: &[&str] = &["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"];

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/dream-machine/v1/generations/image", post(create))
        .route("/dream-machine/v1/generations/{id}", get(poll).delete(cancel))
}

fn detail(status: StatusCode, message: &str) -> Response {
    json_reply(status, &[], json!({ "detail": message }))
}

async fn admit(
    st: &State,
    route: &'static str,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<crate::Fault>, Response> {
    let fault = st.arrive(route, method, path, headers, body);
    gate(
        fault,
        bearer_is(headers, keys::LUMA),
        || detail(StatusCode::UNAUTHORIZED, "Invalid API key"),
        json!({ "detail": "Internal server error" }),
    )
    .await
}

fn generation(id: &str, state: &str, image: Value, failure: Value) -> Value {
    json!({ "id": id, "generation_type": "image", "state": state, "failure_reason": failure, "created_at": "2026-11-21T12:00:00Z", "assets": { "image": image }, "model": "photon-1", "request": {} })
}

async fn create(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = match admit(&st, "luma.create", "POST", "/dream-machine/v1/generations/image", &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(req) = json_body(&body) else {
        return detail(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    if req["prompt"].as_str().is_none_or(str::is_empty) {
        return detail(StatusCode::BAD_REQUEST, "prompt is required");
    }
    let ratio = req["aspect_ratio"].as_str().unwrap_or("16:9");
    if !RATIOS.contains(&ratio) {
        return detail(StatusCode::BAD_REQUEST, "aspect_ratio: invalid value");
    }
    if !matches!(req["model"].as_str(), Some("photon-1" | "photon-flash-1")) {
        return detail(StatusCode::BAD_REQUEST, "model: must be photon-1 or photon-flash-1");
    }
    let (w, h) = size_for_ratio(ratio, ':').unwrap_or((1024, 1024));
    let id = st.new_task("luma", Asset::Jpeg(w, h), 2, &fault);
    json_reply(StatusCode::CREATED, &[], generation(&id, "queued", Value::Null, Value::Null))
}

async fn poll(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&st, "luma.poll", "GET", &format!("/dream-machine/v1/generations/{id}"), &headers, &[]).await
    {
        return r;
    }
    let doc = match st.poll_task(&id).map(|(s, _)| s) {
        None => return detail(StatusCode::NOT_FOUND, "Generation not found"),
        Some(Stage::Running(1)) => generation(&id, "queued", Value::Null, Value::Null),
        Some(Stage::Running(_)) => generation(&id, "dreaming", Value::Null, Value::Null),
        Some(Stage::Cancelled) => generation(&id, "failed", Value::Null, json!("Generation was cancelled")),
        Some(Stage::Moderated) => generation(&id, "failed", Value::Null, json!("Prompt failed moderation")),
        Some(Stage::Done) => generation(&id, "completed", json!(st.file_url(&id)), Value::Null),
    };
    json_reply(StatusCode::OK, &[], doc)
}

async fn cancel(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) =
        admit(&st, "luma.cancel", "DELETE", &format!("/dream-machine/v1/generations/{id}"), &headers, &[]).await
    {
        return r;
    }
    if st.cancel_task(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        detail(StatusCode::NOT_FOUND, "Generation not found")
    }
}
