//! Runway: `POST /v1/image_to_video` (bearer and `X-Runway-Version`) answers `{id}`;
//! `GET /v1/tasks/{id}` goes `THROTTLED` (queued behind the account's concurrency),
//! `PENDING`, `RUNNING` with `progress`, then `SUCCEEDED` with `output`; `DELETE` cancels.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::keys;
use crate::state::{Asset, Stage, State, bearer_is, gate, header_is, json_body, json_reply};

const VERSION: &str = "2024-11-06";
const RATIOS: &[&str] = &["1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"];

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/v1/image_to_video", post(create)).route("/v1/tasks/{id}", get(poll).delete(cancel))
}

fn error(status: StatusCode, message: &str) -> Response {
    json_reply(status, &[], json!({ "error": message }))
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
    let fault = gate(
        fault,
        bearer_is(headers, keys::RUNWAY),
        || error(StatusCode::UNAUTHORIZED, "Incorrect hostname for API key, or invalid API key"),
        json!({ "error": "Internal server error" }),
    )
    .await?;
    if !header_is(headers, "x-runway-version", VERSION) {
        return Err(error(StatusCode::BAD_REQUEST, "Missing or invalid X-Runway-Version header; use 2024-11-06"));
    }
    Ok(fault)
}

async fn create(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = match admit(&st, "runway.create", "POST", "/v1/image_to_video", &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(req) = json_body(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid JSON body");
    };
    let mut issues = Vec::new();
    if !req["promptImage"].as_str().is_some_and(|u| u.starts_with("data:image/") || u.starts_with("https://")) {
        issues.push("promptImage: must be an HTTPS URL or a data URI");
    }
    if !req["ratio"].as_str().is_some_and(|r| RATIOS.contains(&r)) {
        issues.push("ratio: invalid enum value");
    }
    if !req["duration"].as_u64().is_some_and(|d| (2..=10).contains(&d)) {
        issues.push("duration: must be an integer from 2 to 10");
    }
    if req["model"].as_str().is_none() {
        issues.push("model: required");
    }
    if !issues.is_empty() {
        return json_reply(
            StatusCode::BAD_REQUEST,
            &[],
            json!({ "error": "Validation of body failed", "issues": issues }),
        );
    }
    let id = st.new_task("rw", Asset::Mp4, 3, &fault);
    json_reply(StatusCode::OK, &[], json!({ "id": id }))
}

async fn poll(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&st, "runway.poll", "GET", &format!("/v1/tasks/{id}"), &headers, &[]).await {
        return r;
    }
    let task = |status: &str, extra: Value| {
        let mut doc = json!({ "id": id, "createdAt": "2026-11-21T12:00:00.000Z", "status": status });
        if let (Some(doc), Value::Object(extra)) = (doc.as_object_mut(), extra) {
            doc.extend(extra);
        }
        json_reply(StatusCode::OK, &[], doc)
    };
    match st.poll_task(&id).map(|(s, _)| s) {
        None => error(StatusCode::NOT_FOUND, "Task not found"),
        Some(Stage::Running(1)) => task("THROTTLED", json!({})),
        Some(Stage::Running(2)) => task("PENDING", json!({})),
        Some(Stage::Running(_)) => task("RUNNING", json!({ "progress": 0.5 })),
        Some(Stage::Cancelled) => task("CANCELLED", json!({})),
        Some(Stage::Moderated) => task(
            "FAILED",
            json!({ "failure": "The input image did not pass our content moderation.", "failureCode": "SAFETY.INPUT.IMAGE" }),
        ),
        Some(Stage::Done) => task("SUCCEEDED", json!({ "output": [st.file_url(&id)] })),
    }
}

async fn cancel(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&st, "runway.cancel", "DELETE", &format!("/v1/tasks/{id}"), &headers, &[]).await {
        return r;
    }
    if st.cancel_task(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "Task not found")
    }
}
