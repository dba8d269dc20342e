//! Stability AI v2beta: multipart generate and upscale routes with bearer auth, answering
//! image bytes with `finish-reason` and `seed` headers (`accept: image/*`); the creative
//! upscale answers `{id}` and its result is polled at `GET /v2beta/results/{id}` (202 while
//! running, then JSON with both `image` and `result`, as versions differ). Errors are
//! `{id, name, errors:[…]}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;

use crate::form::Field;
use crate::keys;
use crate::state::{Asset, Fault, Stage, State, bearer_is, gate, image_size, json_reply, size_for_ratio};

const RATIOS: &[&str] = &["21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21"];

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v2beta/stable-image/generate/{model}", post(generate))
        .route("/v2beta/stable-image/upscale/{mode}", post(upscale))
        .route("/v2beta/results/{id}", get(result))
}

fn error(status: StatusCode, rid: &str, name: &str, errors: &[&str]) -> Response {
    json_reply(status, &[("x-request-id", rid.to_string())], json!({ "id": rid, "name": name, "errors": errors }))
}

fn server_error() -> serde_json::Value {
    json!({ "id": "err", "name": "internal_error", "errors": ["An unexpected server error occurred."] })
}

/// A non-empty text field (Stability treats an empty one as absent).
fn text<'a>(form: &'a [Field], name: &str) -> Option<&'a str> {
    crate::form::text(form, name).filter(|v| !v.is_empty())
}

/// Checks auth, shared faults, moderation and the form; the form on success.
async fn admit(
    st: &State,
    route: &'static str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<Field>, Option<Fault>, String), Response> {
    let fault = st.arrive(route, "POST", path, headers, body);
    let rid = st.next_id("req");
    let unauthorised = || error(StatusCode::UNAUTHORIZED, &rid, "unauthorized", &["authorization: invalid or missing"]);
    let fault = gate(fault, bearer_is(headers, keys::STABILITY), unauthorised, server_error()).await?;
    if let Some(Fault::Moderated) = fault {
        let msg = "Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.";
        return Err(error(StatusCode::FORBIDDEN, &rid, "content_moderation", &[msg]));
    }
    let Some(form) = crate::form::of_request(headers, body) else {
        return Err(error(StatusCode::BAD_REQUEST, &rid, "bad_request", &["the body must be multipart/form-data"]));
    };
    Ok((form, fault, rid))
}

fn image_bytes(rid: &str, (w, h): (u32, u32), seed: &str, input: Option<&[u8]>) -> Response {
    let headers = [
        ("content-type", "image/png".to_string()),
        ("finish-reason", "SUCCESS".to_string()),
        ("seed", seed.to_string()),
        ("x-request-id", rid.to_string()),
    ];
    let made = input.and_then(|i| crate::assets::from_input(i, (w, h), false));
    let bytes = made.unwrap_or_else(|| crate::assets::png(w, h).to_vec());
    let mut resp = Bytes::from(bytes).into_response();
    for (n, v) in headers {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

async fn generate(Axum(st): Axum<Arc<State>>, Path(model): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let path = format!("/v2beta/stable-image/generate/{model}");
    let (form, _, rid) = match admit(&st, "stability.generate", &path, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !matches!(model.as_str(), "ultra" | "core" | "sd3") {
        return error(StatusCode::NOT_FOUND, &rid, "not_found", &["the requested resource was not found"]);
    }
    if text(&form, "prompt").is_none() {
        return error(StatusCode::BAD_REQUEST, &rid, "bad_request", &["prompt: cannot be empty"]);
    }
    let size = match crate::form::get(&form, "image") {
        Some(img) => match image_size(img) {
            Some(size) => size,
            None => return error(StatusCode::BAD_REQUEST, &rid, "bad_request", &["image: cannot be decoded"]),
        },
        None => {
            let ratio = text(&form, "aspect_ratio").unwrap_or("1:1");
            if !RATIOS.contains(&ratio) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &rid,
                    "bad_request",
                    &["aspect_ratio: must be one of 21:9, 16:9, 3:2, 5:4, 1:1, 4:5, 2:3, 9:16, 9:21"],
                );
            }
            size_for_ratio(ratio, ':').unwrap_or((1024, 1024))
        }
    };
    image_bytes(&rid, size, text(&form, "seed").unwrap_or("1234"), crate::form::get(&form, "image"))
}

async fn upscale(Axum(st): Axum<Arc<State>>, Path(mode): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let path = format!("/v2beta/stable-image/upscale/{mode}");
    let (form, fault, rid) = match admit(&st, "stability.upscale", &path, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some((w, h)) = crate::form::get(&form, "image").and_then(image_size) else {
        return error(StatusCode::BAD_REQUEST, &rid, "bad_request", &["image: required, and must be an image"]);
    };
    if mode != "fast" && text(&form, "prompt").is_none() {
        return error(StatusCode::BAD_REQUEST, &rid, "bad_request", &["prompt: cannot be empty"]);
    }
    let out = ((w * 4).min(4096), (h * 4).min(4096));
    match mode.as_str() {
        "fast" | "conservative" => image_bytes(&rid, out, "0", crate::form::get(&form, "image")),
        "creative" => {
            let id = st.new_task("upscale", Asset::Png(out.0, out.1), 2, &fault);
            if let Some(input) = crate::form::get(&form, "image") {
                st.keep_source(&id, input);
            }
            json_reply(StatusCode::OK, &[("x-request-id", rid)], json!({ "id": id }))
        }
        _ => error(StatusCode::NOT_FOUND, &rid, "not_found", &["the requested resource was not found"]),
    }
}

async fn result(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let fault = st.arrive("stability.result", "GET", &format!("/v2beta/results/{id}"), &headers, &[]);
    let rid = st.next_id("req");
    let unauthorised = || error(StatusCode::UNAUTHORIZED, &rid, "unauthorized", &["authorization: invalid or missing"]);
    if let Err(r) = gate(fault, bearer_is(&headers, keys::STABILITY), unauthorised, server_error()).await {
        return r;
    }
    match st.poll_task(&id) {
        None => error(StatusCode::NOT_FOUND, &rid, "not_found", &["result not found"]),
        Some((Stage::Running(_) | Stage::Cancelled, _)) => {
            json_reply(StatusCode::ACCEPTED, &[], json!({ "id": id, "status": "in-progress" }))
        }
        Some((Stage::Moderated, _)) => json_reply(
            StatusCode::OK,
            &[],
            json!({ "finish_reason": "CONTENT_FILTERED", "image": "", "result": "", "seed": 0 }),
        ),
        Some((Stage::Done, task)) => {
            let Asset::Png(w, h) = task.asset else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, &rid, "internal_error", &[]);
            };
            let made = st.source(&id).and_then(|i| crate::assets::from_input(&i, (w, h), false));
            let bytes = made.unwrap_or_else(|| crate::assets::png(w, h).to_vec());
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            json_reply(
                StatusCode::OK,
                &[("x-request-id", rid)],
                json!({ "image": b64, "result": b64, "finish_reason": "SUCCESS", "seed": 7 }),
            )
        }
    }
}
