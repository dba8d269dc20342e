//! Replicate: `POST /v1/models/{owner}/{name}/predictions` or `/v1/predictions` (bearer),
//! `GET /v1/predictions/{id}`, `POST /v1/predictions/{id}/cancel`; RFC 7807 errors. With
//! `Prefer: wait`, upscales (inputs with `scale`) finish within the wait and answer
//! `succeeded` at once; generations run past it and answer `starting`, to be polled.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::keys;
use crate::state::{Asset, Fault, Stage, State, bearer_is, gate, image_size, json_body, json_reply, size_for_ratio};

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/models/{owner}/{name}/predictions", post(create_for_model))
        .route("/v1/predictions", post(create_for_version))
        .route("/v1/predictions/{id}", get(poll))
        .route("/v1/predictions/{id}/cancel", post(cancel))
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    json_reply(
        status,
        &[],
        json!({ "type": "about:blank", "title": title, "detail": detail, "status": status.as_u16() }),
    )
}

fn unauthorised() -> Response {
    problem(StatusCode::UNAUTHORIZED, "Unauthenticated", "You did not pass a valid authentication token")
}

fn server_error() -> Value {
    json!({ "title": "Internal server error", "detail": "Something went wrong", "status": 500 })
}

fn prediction(st: &State, id: &str, model: &str, status: &str, output: Value, error: Value) -> Value {
    let get = format!("{}/replicate/v1/predictions/{id}", st.base_url);
    json!({
        "id": id, "model": model, "version": "5599ed30", "status": status, "input": {}, "output": output,
        "error": error, "logs": "", "metrics": if status == "succeeded" { json!({ "predict_time": 2.5 }) } else { json!({}) },
        "created_at": "2026-11-21T12:00:00Z",
        "urls": { "get": get, "cancel": format!("{get}/cancel") }
    })
}

async fn create_for_model(
    Axum(st): Axum<Arc<State>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(&st, &format!("/v1/models/{owner}/{name}/predictions"), &format!("{owner}/{name}"), &headers, &body).await
}

async fn create_for_version(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    create(&st, "/v1/predictions", "version", &headers, &body).await
}

async fn create(st: &State, path: &str, model: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let fault = st.arrive("replicate.create", "POST", path, headers, body);
    let fault = match gate(fault, bearer_is(headers, keys::REPLICATE), unauthorised, server_error()).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(req) = json_body(body) else {
        return problem(StatusCode::BAD_REQUEST, "Invalid JSON", "The request body is not valid JSON");
    };
    let input = &req["input"];
    let upscale = input["scale"].is_u64();
    let size = if upscale {
        let Some(size) = input["image"].as_str().and_then(data_uri_size) else {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Input validation failed",
                "- input.image: Does not match format 'uri'",
            );
        };
        let k = u32::try_from(input["scale"].as_u64().unwrap_or(4)).unwrap_or(4);
        ((size.0 * k).min(4096), (size.1 * k).min(4096))
    } else {
        if input["prompt"].as_str().is_none_or(str::is_empty) {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "Input validation failed", "- input: prompt is required");
        }
        size_for_ratio(input["aspect_ratio"].as_str().unwrap_or("1:1"), ':').unwrap_or((1024, 1024))
    };
    let id = st.new_task("pred", Asset::Png(size.0, size.1), 2, &fault);
    if let Some(bytes) = input["image"].as_str().and_then(crate::state::data_uri_bytes) {
        st.keep_source(&id, &bytes);
    }
    let wait = headers.get("prefer").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("wait"));
    if wait && upscale && !matches!(fault, Some(Fault::NeverFinish | Fault::Moderated)) {
        let out = json!(st.file_url(&id));
        return json_reply(StatusCode::CREATED, &[], prediction(st, &id, model, "succeeded", out, Value::Null));
    }
    json_reply(StatusCode::CREATED, &[], prediction(st, &id, model, "starting", Value::Null, Value::Null))
}

/// The size of a `data:image/png;base64,` URI's image.
fn data_uri_size(uri: &str) -> Option<(u32, u32)> {
    image_size(&crate::state::data_uri_bytes(uri)?)
}

async fn poll(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let fault = st.arrive("replicate.poll", "GET", &format!("/v1/predictions/{id}"), &headers, &[]);
    if let Err(r) = gate(fault, bearer_is(&headers, keys::REPLICATE), unauthorised, server_error()).await {
        return r;
    }
    let doc = match st.poll_task(&id) {
        None => return problem(StatusCode::NOT_FOUND, "Not found", "The requested resource does not exist"),
        Some((Stage::Running(n), _)) => {
            prediction(&st, &id, "m", if n == 1 { "starting" } else { "processing" }, Value::Null, Value::Null)
        }
        Some((Stage::Cancelled, _)) => prediction(&st, &id, "m", "canceled", Value::Null, Value::Null),
        Some((Stage::Moderated, _)) => {
            let e = json!("NSFW content detected. Try running it again, or try a different prompt.");
            prediction(&st, &id, "m", "failed", Value::Null, e)
        }
        Some((Stage::Done, _)) => prediction(&st, &id, "m", "succeeded", json!([st.file_url(&id)]), Value::Null),
    };
    json_reply(StatusCode::OK, &[], doc)
}

async fn cancel(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let fault = st.arrive("replicate.cancel", "POST", &format!("/v1/predictions/{id}/cancel"), &headers, &[]);
    if let Err(r) = gate(fault, bearer_is(&headers, keys::REPLICATE), unauthorised, server_error()).await {
        return r;
    }
    if !st.cancel_task(&id) {
        return problem(StatusCode::NOT_FOUND, "Not found", "The requested resource does not exist");
    }
    json_reply(StatusCode::OK, &[], prediction(&st, &id, "m", "canceled", Value::Null, Value::Null))
}
