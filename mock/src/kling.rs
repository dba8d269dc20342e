//! Kling: `POST /v1/videos/image2video` with `Authorization: Bearer <HS256 JWT>` (issuer the
//! access key, signed with the secret key) answers `{code, message, request_id, data}`;
//! `GET /v1/videos/image2video/{id}` takes the task id or the client's `external_task_id`
//! and goes `submitted`, `processing`, then `succeed` with `task_result.videos` and
//! `final_unit_deduction`. A second task with the same `external_task_id` is refused.
//! [`Fault::LoseReply`] creates the task and then never answers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::keys;
use crate::state::{Asset, Fault, Stage, State, gate, hang, json_body, json_reply};

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/v1/videos/image2video", post(create)).route("/v1/videos/image2video/{id}", get(poll))
}

fn envelope(st: &State, status: StatusCode, code: u32, message: &str, data: Value) -> Response {
    json_reply(status, &[], json!({ "code": code, "message": message, "request_id": st.next_id("kreq"), "data": data }))
}

/// Whether the bearer token is a valid, current HS256 JWT for the mock's key pair.
fn token_valid(headers: &HeaderMap) -> bool {
    let (access, secret) = keys::KLING.split_once(':').unwrap_or_default();
    let Some(token) =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [head, payload, signature] = parts.as_slice() else { return false };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(format!("{head}.{payload}").as_bytes());
    if b64.encode(mac.finalize().into_bytes()) != *signature {
        return false;
    }
    let Some(claims) = b64.decode(payload).ok().and_then(|p| serde_json::from_slice::<Value>(&p).ok()) else {
        return false;
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    claims["iss"] == access
        && claims["exp"].as_u64().is_some_and(|e| e > now)
        && claims["nbf"].as_u64().is_some_and(|n| n <= now)
}

async fn create(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = st.arrive("kling.create", "POST", "/v1/videos/image2video", &headers, &body);
    let lose_reply = matches!(fault, Some(Fault::LoseReply));
    let fault = if lose_reply { None } else { fault };
    let unauthorised = || envelope(&st, StatusCode::UNAUTHORIZED, 1000, "Authentication failed", Value::Null);
    let fault = match gate(
        fault,
        token_valid(&headers),
        unauthorised,
        json!({ "code": 5000, "message": "Server internal error", "request_id": "r" }),
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Some(Fault::Moderated) = fault {
        return envelope(&st, StatusCode::BAD_REQUEST, 1301, "Failure to pass the risk control system", Value::Null);
    }
    let Some(req) = json_body(&body) else {
        return envelope(&st, StatusCode::BAD_REQUEST, 1200, "Invalid request body", Value::Null);
    };
    if req["image"].as_str().is_none_or(str::is_empty) {
        return envelope(&st, StatusCode::BAD_REQUEST, 1201, "image is required", Value::Null);
    }
    if !matches!(req["duration"].as_str(), Some("5" | "10")) {
        return envelope(&st, StatusCode::BAD_REQUEST, 1201, "duration must be \"5\" or \"10\"", Value::Null);
    }
    let external = req["external_task_id"].as_str().unwrap_or("");
    if !external.is_empty() && st.find_external(external).is_some() {
        return envelope(&st, StatusCode::BAD_REQUEST, 1201, "external_task_id already exists", Value::Null);
    }
    let id = st.new_task("kling", Asset::Mp4, 2, &fault);
    if !external.is_empty() {
        st.set_external_id(&id, external);
    }
    if lose_reply {
        return hang().await;
    }
    let data = json!({ "task_id": id, "task_status": "submitted", "task_info": { "external_task_id": external }, "created_at": 1_763_700_000_000u64, "updated_at": 1_763_700_000_000u64 });
    envelope(&st, StatusCode::OK, 0, "SUCCEED", data)
}

async fn poll(Axum(st): Axum<Arc<State>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let fault = st.arrive("kling.poll", "GET", &format!("/v1/videos/image2video/{id}"), &headers, &[]);
    let unauthorised = || envelope(&st, StatusCode::UNAUTHORIZED, 1000, "Authentication failed", Value::Null);
    if let Err(r) =
        gate(fault, token_valid(&headers), unauthorised, json!({ "code": 5000, "message": "Server internal error" }))
            .await
    {
        return r;
    }
    let task_id = st.find_external(&id).unwrap_or(id);
    let data = |status: &str, extra: Value| {
        let mut d = json!({ "task_id": task_id, "task_status": status, "created_at": 1_763_700_000_000u64, "updated_at": 1_763_700_005_000u64 });
        if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
            d.extend(extra);
        }
        d
    };
    let doc = match st.poll_task(&task_id).map(|(s, _)| s) {
        None => return envelope(&st, StatusCode::NOT_FOUND, 1203, "task not found", Value::Null),
        Some(Stage::Running(1)) => data("submitted", json!({})),
        Some(Stage::Running(_)) => data("processing", json!({})),
        Some(Stage::Cancelled) => data("failed", json!({ "task_status_msg": "cancelled" })),
        Some(Stage::Moderated) => {
            data("failed", json!({ "task_status_msg": "Failure to pass the risk control system" }))
        }
        Some(Stage::Done) => data(
            "succeed",
            json!({ "final_unit_deduction": "1", "task_result": { "videos": [{ "id": "v1", "url": st.file_url(&task_id), "duration": "5" }] } }),
        ),
    };
    envelope(&st, StatusCode::OK, 0, "SUCCEED", doc)
}
