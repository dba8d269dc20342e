//! OpenAI Images: `POST /v1/images/generations`, bearer auth, `{error:{message,type,param,code}}`
//! errors with `x-request-id`, and a `b64_json` image with `usage` tokens.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Axum;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::keys;
use crate::state::{Fault, Next, State, json_reply, shared_fault};

const SIZES: &[&str] = &["1024x1024", "1536x1024", "1024x1536", "auto"];

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/v1/images/generations", post(generate)).route("/v1/images/edits", post(edit))
}

fn error(
    status: StatusCode,
    request_id: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
    message: &str,
) -> Response {
    let body = json!({ "error": { "message": message, "type": kind, "param": param, "code": code } });
    json_reply(status, &[("x-request-id", request_id.to_string())], body)
}

/// OpenAI's 400 for a missing parameter.
fn missing(rid: &str, param: &str) -> Response {
    let msg = format!("Missing required parameter: '{param}'.");
    error(StatusCode::BAD_REQUEST, rid, "invalid_request_error", Some(param), Some("missing_required_parameter"), &msg)
}

/// Records the request, checks the key (echoing a wrong one back, as the real service
/// partly does: clients must redact), answers the shared faults and moderation; the request
/// id on success.
async fn admit(
    st: &State,
    route: &'static str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Response> {
    let fault = st.arrive(route, "POST", path, headers, body);
    let rid = st.next_id("req");
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if bearer != Some(&format!("Bearer {}", keys::OPENAI)) {
        let given = bearer.unwrap_or("").trim_start_matches("Bearer ");
        let msg = format!("Incorrect API key provided: {given}. You can find your API key in your account settings.");
        return Err(error(
            StatusCode::UNAUTHORIZED,
            &rid,
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
            &msg,
        ));
    }
    let server_error = json!({ "error": { "message": "The server had an error processing your request.", "type": "server_error", "param": null, "code": null } });
    let fault = match shared_fault(fault, server_error).await {
        Next::Reply(r) => return Err(r),
        Next::Continue(f) => f,
    };
    if let Some(Fault::Moderated) = fault {
        let msg = "Your request was rejected as a result of our safety system.";
        let kind = "image_generation_user_error";
        return Err(error(StatusCode::BAD_REQUEST, &rid, kind, None, Some("moderation_blocked"), msg));
    }
    Ok(rid)
}

async fn generate(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = match admit(&st, "openai.generate", "/v1/images/generations", &headers, &body).await {
        Ok(rid) => rid,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        let msg = "We could not parse the JSON body of your request.";
        return error(StatusCode::BAD_REQUEST, &rid, "invalid_request_error", None, None, msg);
    };
    let Some(prompt) = req["prompt"].as_str().filter(|p| !p.is_empty()) else {
        return missing(&rid, "prompt");
    };
    let size = req["size"].as_str().unwrap_or("auto");
    if !SIZES.contains(&size) {
        let msg = format!(
            "Invalid value: '{size}'. Supported values are: 'auto', '1024x1024', '1024x1536', and '1536x1024'."
        );
        return error(
            StatusCode::BAD_REQUEST,
            &rid,
            "invalid_request_error",
            Some("size"),
            Some("invalid_value"),
            &msg,
        );
    }
    let (w, h) =
        size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))).unwrap_or((1024, 1024));
    let n = req["n"].as_u64().unwrap_or(1).clamp(1, 10);
    let quality = req["quality"].as_str().unwrap_or("auto");
    success(&rid, prompt, (w, h), quality, n, size, None)
}

/// The images reply with `usage` tokens; an edit's image is `made` from its input.
fn success(
    rid: &str,
    prompt: &str,
    (w, h): (u32, u32),
    quality: &str,
    n: u64,
    size: &str,
    made: Option<Vec<u8>>,
) -> Response {
    let bytes = made.unwrap_or_else(|| crate::assets::png(w, h).to_vec());
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let out_tokens: u64 = match quality {
        "low" => 272,
        "medium" => 1056,
        _ => 4160,
    } * n;
    let in_tokens = (prompt.len() as u64).div_ceil(4);
    let reply = json!({
        "created": 1_763_700_000,
        "data": (0..n).map(|_| json!({ "b64_json": b64 })).collect::<Vec<_>>(),
        "usage": {
            "input_tokens": in_tokens,
            "input_tokens_details": { "image_tokens": 0, "text_tokens": in_tokens },
            "output_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens
        },
        "background": "opaque", "output_format": "png", "quality": quality, "size": size
    });
    json_reply(StatusCode::OK, &[("x-request-id", rid.to_string())], reply)
}

/// `POST /v1/images/edits`: multipart `model`, `prompt`, `image[]` (or `image`).
async fn edit(Axum(st): Axum<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = match admit(&st, "openai.edit", "/v1/images/edits", &headers, &body).await {
        Ok(rid) => rid,
        Err(r) => return r,
    };
    let form = crate::form::of_request(&headers, &body).unwrap_or_default();
    let text = |name: &str| crate::form::text(&form, name).map(str::to_string);
    let Some(prompt) = text("prompt").filter(|p| !p.is_empty()) else {
        return missing(&rid, "prompt");
    };
    let image = form.iter().find(|f| f.name == "image[]" || f.name == "image");
    let Some((w, h)) = image.and_then(|f| crate::state::image_size(&f.data)) else {
        return missing(&rid, "image");
    };
    let quality = text("quality").unwrap_or_else(|| "auto".into());
    let made = image.and_then(|f| crate::assets::from_input(&f.data, (w, h), false));
    success(&rid, &prompt, (w, h), &quality, 1, "auto", made)
}
