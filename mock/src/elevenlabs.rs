//! ElevenLabs: `POST /v1/text-to-speech/{voice_id}?output_format=pcm_24000` with
//! `xi-api-key` answers raw 16-bit PCM with `character-cost` and `request-id` headers.
//! Errors are `{detail:{status, message}}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::keys;
use crate::state::{State, gate, header_is, json_body, json_reply};

/// Voices the mock account has.
const VOICES: &[&str] = &["21m00Tcm4TlvDq8ikWAM", "EXAVITQu4vr4xnSDxMaL"];

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/v1/text-to-speech/{voice}", post(speak))
}

fn detail(status: StatusCode, kind: &str, message: &str) -> Response {
    json_reply(status, &[], json!({ "detail": { "status": kind, "message": message } }))
}

async fn speak(
    Axum(st): Axum<Arc<State>>,
    Path(voice): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = q.get("output_format").cloned().unwrap_or_else(|| "mp3_44100_128".into());
    let path = format!("/v1/text-to-speech/{voice}?output_format={format}");
    let fault = st.arrive("elevenlabs.tts", "POST", &path, &headers, &body);
    let unauthorised = || detail(StatusCode::UNAUTHORIZED, "invalid_api_key", "Invalid API key");
    let server_error = json!({ "detail": { "status": "internal_error", "message": "Internal error" } });
    if let Err(r) = gate(fault, header_is(&headers, "xi-api-key", keys::ELEVENLABS), unauthorised, server_error).await {
        return r;
    }
    if !VOICES.contains(&voice.as_str()) {
        return detail(
            StatusCode::NOT_FOUND,
            "voice_not_found",
            &format!("A voice with the voice_id {voice} was not found."),
        );
    }
    let Some(rate) = format.strip_prefix("pcm_").and_then(|r| r.parse::<u32>().ok()) else {
        return detail(
            StatusCode::BAD_REQUEST,
            "invalid_output_format",
            "The mock speaks pcm_16000, pcm_22050, pcm_24000 and pcm_44100 only",
        );
    };
    let Some(text) = json_body(&body).and_then(|b| b["text"].as_str().map(str::to_string)).filter(|t| !t.is_empty())
    else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "invalid_text", "text: field required");
    };
    let chars = text.chars().count();
    let headers = [
        ("content-type", "audio/pcm".to_string()),
        ("character-cost", chars.to_string()),
        ("request-id", st.next_id("el")),
    ];
    let mut resp = Bytes::from(crate::assets::speech_pcm(chars, rate)).into_response();
    for (n, v) in headers {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}
