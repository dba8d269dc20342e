//! ElevenLabs: `POST /v1/text-to-speech/{voice_id}?output_format=pcm_24000` with `xi-api-key`
//! answers with raw 16-bit little-endian mono PCM, and `character-cost` and `request-id`
//! headers; the cost is kept for metering. No idempotency key exists, so an ambiguous create
//! is never re-sent.

use serde_json::json;

use super::ask::{Ask, Generated, Usage};
use super::call::{Call, error_message, put};
use super::error::CloudError;

/// A premade voice every account has.
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";
const RATE_HZ: u32 = 24_000;

/// Speaks `ask.prompt`.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let voice = ask.voice.as_deref().unwrap_or(DEFAULT_VOICE);
    if voice.is_empty() || !voice.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(call.unsupported("voice", format!("{voice:?} is not an ElevenLabs voice id (letters and digits)")));
    }
    let mut body = json!({ "text": ask.prompt, "model_id": model });
    put(&mut body, "seed", ask.seed);
    let http = call.client.http()?;
    let url = call.url(&format!("/v1/text-to-speech/{voice}?output_format=pcm_{RATE_HZ}"));
    let reply = call.create(|| http.post(&url).json(&body)).await?;
    let rid = reply.request_id.clone();
    if !reply.status.is_success() {
        let doc = reply.json(call.name()).unwrap_or_default();
        return Err(call.refusal(reply.status.as_u16(), rid, &error_message(&doc), false));
    }
    let ctype = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ctype.starts_with("audio/") && ctype != "application/octet-stream" {
        return Err(call.malformed(rid, format!("the reply is {ctype:?}, not audio")));
    }
    let mut usage = Usage::request(rid);
    let cost = reply.headers.get("character-cost").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    usage.meter("characters", cost);
    Ok(Generated { bytes: reply.body, media_type: format!("audio/L16;rate={RATE_HZ};channels=1"), usage })
}
