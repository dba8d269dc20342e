//! fal queue: `POST /{model_id}` (`Authorization: Key …`) answers `{request_id, response_url,
//! status_url, cancel_url}`; `GET /{owner}/{app}/requests/{id}/status` answers `IN_QUEUE`
//! (202, with `queue_position`), `IN_PROGRESS` (202), then `COMPLETED` (200);
//! `GET /{owner}/{app}/requests/{id}` is the model output; `PUT …/cancel` cancels. Errors are
//! `{detail}`. One handler reads the path, as model ids have any depth.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};

use crate::keys;
use crate::state::{Asset, Stage, State, gate, header_is, json_body, json_reply};

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/{*path}", any(handle))
}

fn detail(status: StatusCode, message: &str) -> Response {
    json_reply(status, &[], json!({ "detail": message }))
}

async fn handle(
    Axum(st): Axum<Arc<State>>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let (route, id, tail) = match (method.as_str(), parts.as_slice()) {
        ("GET", [_, _, "requests", id, "status"]) => ("fal.status", *id, "status"),
        ("GET", [_, _, "requests", id]) => ("fal.result", *id, ""),
        ("PUT", [_, _, "requests", id, "cancel"]) => ("fal.cancel", *id, "cancel"),
        ("POST", [_, _, ..]) => ("fal.submit", "", ""),
        _ => return detail(StatusCode::NOT_FOUND, "Not Found"),
    };
    let fault = st.arrive(route, method.as_str(), &format!("/{path}"), &headers, &body);
    let authorised = header_is(&headers, "authorization", &format!("Key {}", keys::FAL));
    let unauthorised = || detail(StatusCode::UNAUTHORIZED, "No user found for Key ID and Secret");
    let fault = match gate(fault, authorised, unauthorised, json!({ "detail": "Internal Server Error" })).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let app = parts[..2].join("/");
    match (route, tail) {
        ("fal.submit", _) => submit(&st, &path, &app, &body, &fault),
        ("fal.status", _) => status(&st, id),
        ("fal.cancel", _) => {
            if st.cancel_task(id) {
                json_reply(StatusCode::ACCEPTED, &[], json!({ "status": "CANCELLATION_REQUESTED" }))
            } else {
                detail(StatusCode::NOT_FOUND, "Request not found")
            }
        }
        _ => result(&st, id),
    }
}

fn submit(st: &State, model: &str, app: &str, body: &[u8], fault: &Option<crate::Fault>) -> Response {
    let Some(input) = json_body(body) else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "Invalid JSON body");
    };
    let asset = if model.contains("video") {
        if input["image_url"].as_str().is_none() {
            return missing("image_url");
        }
        Asset::Mp4
    } else if input["upscale_factor"].is_u64() {
        let Some(url) = input["image_url"].as_str() else {
            return missing("image_url");
        };
        // A data URI's image sets the size (times the factor); a remote URL is not fetched.
        let k = u32::try_from(input["upscale_factor"].as_u64().unwrap_or(2)).unwrap_or(2);
        let size = crate::state::data_uri_bytes(url).as_deref().and_then(crate::state::image_size);
        let (w, h) = size.map_or((1024, 1024), |(w, h)| ((w * k).min(4096), (h * k).min(4096)));
        Asset::Png(w, h)
    } else {
        if input["prompt"].as_str().is_none_or(str::is_empty) {
            return missing("prompt");
        }
        let side = |k: &str| u32::try_from(input["image_size"][k].as_u64().unwrap_or(1024)).unwrap_or(1024);
        Asset::Png(side("width").min(4096), side("height").min(4096))
    };
    let id = st.new_task("falreq", asset, 2, fault);
    if let Some(source) = input["image_url"].as_str().and_then(crate::state::data_uri_bytes) {
        st.keep_source(&id, &source);
    }
    let base = format!("{}/fal/{app}/requests/{id}", st.base_url);
    json_reply(
        StatusCode::OK,
        &[],
        json!({ "request_id": id, "response_url": base, "status_url": format!("{base}/status"), "cancel_url": format!("{base}/cancel"), "queue_position": 1 }),
    )
}

fn missing(field: &str) -> Response {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &[],
        json!({ "detail": [{ "loc": ["body", field], "msg": "field required", "type": "value_error.missing" }] }),
    )
}

fn status(st: &State, id: &str) -> Response {
    match st.poll_task(id).map(|(s, _)| s) {
        None => detail(StatusCode::NOT_FOUND, "Request not found"),
        Some(Stage::Running(1)) => {
            json_reply(StatusCode::ACCEPTED, &[], json!({ "status": "IN_QUEUE", "queue_position": 0 }))
        }
        Some(Stage::Running(_)) => {
            json_reply(StatusCode::ACCEPTED, &[], json!({ "status": "IN_PROGRESS", "logs": [] }))
        }
        Some(Stage::Cancelled) => json_reply(
            StatusCode::OK,
            &[],
            json!({ "status": "COMPLETED", "error": "Request was cancelled", "error_type": "request_cancelled" }),
        ),
        Some(Stage::Moderated) => json_reply(
            StatusCode::OK,
            &[],
            json!({ "status": "COMPLETED", "error": "The content could not be processed because it contained material flagged by a content checker.", "error_type": "content_policy_violation" }),
        ),
        Some(Stage::Done) => json_reply(
            StatusCode::OK,
            &[],
            json!({ "status": "COMPLETED", "logs": [], "metrics": { "inference_time": 1.2 } }),
        ),
    }
}

fn result(st: &State, id: &str) -> Response {
    let Some(asset) = st.asset(id) else {
        return detail(StatusCode::NOT_FOUND, "Request not found");
    };
    let url = st.file_url(id);
    let out: Value = match asset {
        Asset::Mp4 => json!({ "video": { "url": url, "content_type": "video/mp4", "file_name": "out.mp4" } }),
        Asset::Png(w, h) | Asset::Jpeg(w, h) | Asset::Cutout(w, h) => {
            json!({ "images": [{ "url": url, "content_type": "image/png", "width": w, "height": h }], "seed": 42 })
        }
    };
    json_reply(StatusCode::OK, &[], out)
}
