//! Recraft: `POST /v1/images/generations` (bearer, JSON) answers `{created, credits,
//! data:[{image_id, url}]}`; `POST /v1/images/removeBackground` (multipart `file`) answers
//! `{created, credits, image:{url}}` with a cut-out PNG. Errors are `{code, message}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Axum;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::keys;
use crate::state::{Asset, Fault, State, bearer_is, gate, image_size, json_body, json_reply};

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/images/generations", post(generate))
        .route("/v1/images/removeBackground", post(remove_background))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_reply(status, &[], json!({ "code": code, "message": message }))
}

async fn admit(
    st: &State,
    route: &'static str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Fault>, Response> {
    let fault = st.arrive(route, "POST", path, headers, body);
    let unauthorised = || {
        error(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            "Authentication credentials were not provided or are invalid",
        )
    };
    let fault = gate(
        fault,
        bearer_is(headers, keys::RECRAFT),
        unauthorised,
        json!({ "code": "internal_error", "message": "Internal error" }),
    )
    .await?;
    if let Some(Fault::Moderated) = fault {
        return Err(error(StatusCode::BAD_REQUEST, "moderation_failed", "The prompt did not pass moderation"));
    }
    Ok(fault)
}

async fn generate(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admit(&st, "recraft.generate", "/v1/images/generations", &headers, &body).await {
        return r;
    }
    let Some(req) = json_body(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_json", "The body is not valid JSON");
    };
    if req["prompt"].as_str().is_none_or(str::is_empty) {
        return error(StatusCode::BAD_REQUEST, "invalid_prompt", "prompt is required");
    }
    let size = req["size"].as_str().unwrap_or("1024x1024");
    let Some((w, h)) = size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))) else {
        return error(StatusCode::BAD_REQUEST, "invalid_size", "size: invalid value");
    };
    let id = st.new_task("rc", Asset::Png(w, h), 0, &None);
    json_reply(
        StatusCode::OK,
        &[],
        json!({ "created": 1_763_700_000, "credits": 40, "data": [{ "image_id": id, "url": st.file_url(&id) }] }),
    )
}

async fn remove_background(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admit(&st, "recraft.remove_background", "/v1/images/removeBackground", &headers, &body).await {
        return r;
    }
    let form = crate::form::of_request(&headers, &body).unwrap_or_default();
    let Some((w, h)) = crate::form::get(&form, "file").and_then(image_size) else {
        return error(StatusCode::BAD_REQUEST, "invalid_file", "file: an image is required");
    };
    let id = st.new_task("rcbg", Asset::Cutout(w, h), 0, &None);
    if let Some(input) = crate::form::get(&form, "file") {
        st.keep_source(&id, input);
    }
    json_reply(
        StatusCode::OK,
        &[],
        json!({ "created": 1_763_700_000, "credits": 10, "image": { "url": st.file_url(&id) } }),
    )
}
