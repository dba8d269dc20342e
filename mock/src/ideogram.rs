//! Ideogram v3: multipart `POST /v1/ideogram-v3/generate` with `Api-Key` answers at once with
//! `{created, data:[{url, is_image_safe, seed, resolution, …}]}`. A moderated result comes
//! back with `is_image_safe: false` and no URL.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Axum;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::keys;
use crate::state::{Asset, Fault, State, gate, header_is, json_reply, size_for_ratio};

const RATIOS: &[&str] =
    &["1x3", "3x1", "1x2", "2x1", "9x16", "16x9", "10x16", "16x10", "2x3", "3x2", "3x4", "4x3", "4x5", "5x4", "1x1"];

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/v1/ideogram-v3/generate", post(generate))
}

fn detail(status: StatusCode, message: &str) -> Response {
    json_reply(status, &[], json!({ "detail": message }))
}

async fn generate(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = st.arrive("ideogram.generate", "POST", "/v1/ideogram-v3/generate", &headers, &body);
    let unauthorised = || detail(StatusCode::UNAUTHORIZED, "Invalid API key");
    let fault = match gate(
        fault,
        header_is(&headers, "api-key", keys::IDEOGRAM),
        unauthorised,
        json!({ "detail": "Internal server error" }),
    )
    .await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(form) = crate::form::of_request(&headers, &body) else {
        return detail(StatusCode::BAD_REQUEST, "The request must be multipart/form-data");
    };
    let text = |name: &str| crate::form::text(&form, name).map(str::to_string);
    let Some(prompt) = text("prompt").filter(|p| !p.is_empty()) else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "prompt: field required");
    };
    let ratio = text("aspect_ratio").unwrap_or_else(|| "1x1".into());
    if !RATIOS.contains(&ratio.as_str()) {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "aspect_ratio: invalid value");
    }
    if !matches!(text("rendering_speed").as_deref(), None | Some("TURBO" | "DEFAULT" | "QUALITY")) {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "rendering_speed: invalid value");
    }
    let (w, h) = size_for_ratio(&ratio, 'x').unwrap_or((1024, 1024));
    let safe = !matches!(fault, Some(Fault::Moderated));
    let id = st.new_task("ideo", Asset::Png(w, h), 0, &None);
    let url = if safe { json!(st.file_url(&id)) } else { json!(null) };
    let seed = text("seed").and_then(|s| s.parse::<u64>().ok()).unwrap_or(12345);
    let image = json!({ "prompt": prompt, "resolution": format!("{w}x{h}"), "is_image_safe": safe, "seed": seed, "url": url, "style_type": "GENERAL" });
    json_reply(StatusCode::OK, &[], json!({ "created": "2026-11-21T12:00:00Z", "data": [image] }))
}
