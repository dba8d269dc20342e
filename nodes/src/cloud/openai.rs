//! OpenAI Images: `POST /v1/images/generations`, bearer auth, sync, `b64_json` results and
//! `usage` tokens. No idempotency key exists, so an ambiguous create is never re-sent.

use std::time::Instant;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::ask::{Generated, ImageAsk, Usage};
use super::client::{ProviderClient, Resend};
use super::error::CloudError;

const NAME: &str = "openai";
const SIZES: &[(u32, u32)] = &[(1024, 1024), (1536, 1024), (1024, 1536)];

/// The request body for `ask`, or the portable param this API cannot honour.
pub fn body(model: &str, ask: &ImageAsk) -> Result<Value, CloudError> {
    let unsupported = |param, why: &str| CloudError::Unsupported { provider: NAME, param, why: why.into() };
    if ask.negative_prompt.is_some() {
        return Err(unsupported(
            "negative_prompt",
            "OpenAI Images has no negative prompt; say it in the prompt, or pick bfl or stability",
        ));
    }
    if ask.seed.is_some() {
        return Err(unsupported(
            "seed",
            "OpenAI Images takes no seed; set seed to -1, or pick bfl for repeatable results",
        ));
    }
    if !SIZES.contains(&(ask.width, ask.height)) {
        return Err(unsupported(
            "width/height",
            &format!(
                "{model} makes 1024x1024, 1536x1024 or 1024x1536, not {}x{}; resize afterwards",
                ask.width, ask.height
            ),
        ));
    }
    let mut body =
        json!({ "model": model, "prompt": ask.prompt, "n": 1, "size": format!("{}x{}", ask.width, ask.height) });
    if let Some(q) = &ask.quality {
        body["quality"] = json!(q);
    }
    Ok(body)
}

/// Generates one image.
pub async fn text_to_image(
    c: &ProviderClient,
    model: &str,
    ask: &ImageAsk,
    cancel: &CancellationToken,
    deadline: Instant,
) -> Result<Generated, CloudError> {
    let body = body(model, ask)?;
    let key = c.key()?;
    let url = format!("{}/v1/images/generations", c.base_url);
    let reply = c
        .send(Resend::OnlyIfRefused, cancel, deadline, || c.http().post(&url).bearer_auth(key.expose()).json(&body))
        .await?;
    let rid = reply.request_id.clone();
    let doc = reply.json(NAME);
    if !reply.status.is_success() {
        let doc = doc.unwrap_or_default();
        let e = &doc["error"];
        let message = c.redact(e["message"].as_str().unwrap_or("no message"));
        return Err(match (reply.status.as_u16(), e["code"].as_str(), e["type"].as_str()) {
            (401 | 403, ..) => CloudError::Auth { provider: NAME, request_id: rid, message, hint: c.key_hint.clone() },
            (_, Some("moderation_blocked" | "content_policy_violation"), _)
            | (_, _, Some("image_generation_user_error")) => {
                CloudError::Moderated { provider: NAME, request_id: rid, message }
            }
            _ => CloudError::Invalid { provider: NAME, request_id: rid, message },
        });
    }
    let doc = doc?;
    let malformed =
        |detail: &str| CloudError::Malformed { provider: NAME, request_id: rid.clone(), detail: detail.into() };
    let b64 = doc["data"][0]["b64_json"].as_str().ok_or_else(|| malformed("no data[0].b64_json"))?;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| malformed("b64_json is not base64"))?;
    let tokens = |name: &'static str| doc["usage"][name].as_f64().map(|v| (name, v));
    let metered = [tokens("input_tokens"), tokens("output_tokens")].into_iter().flatten().collect();
    Ok(Generated { bytes, usage: Usage { request_id: rid, task_id: None, metered } })
}
