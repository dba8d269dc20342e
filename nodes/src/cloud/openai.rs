//! OpenAI Images: `POST /v1/images/generations` (JSON) and `/v1/images/edits` (multipart),
//! bearer auth, sync `b64_json` results and `usage` tokens. No idempotency key exists, so an
//! ambiguous create is never re-sent.

use base64::Engine as _;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::ask::{Ask, Capability, Generated, Usage};
use super::call::{Call, put};
use super::error::CloudError;

const SIZES: &[(u32, u32)] = &[(1024, 1024), (1536, 1024), (1024, 1536)];

/// Checks what OpenAI Images cannot honour.
fn check(call: &Call<'_>, model: &str, ask: &Ask) -> Result<(), CloudError> {
    if ask.negative_prompt.is_some() {
        return Err(call.unsupported(
            "negative_prompt",
            "OpenAI Images has no negative prompt; say it in the prompt, or pick bfl or stability",
        ));
    }
    if ask.seed.is_some() {
        return Err(
            call.unsupported("seed", "OpenAI Images takes no seed; set seed to -1, or pick bfl for repeatable results")
        );
    }
    if ask.steps.is_some() || ask.strength.is_some() {
        let param = if ask.steps.is_some() { "steps" } else { "strength" };
        return Err(call.unsupported(param, format!("OpenAI Images has no {param}; set it to its default")));
    }
    if ask.capability == Capability::TextToImage && !SIZES.contains(&(ask.width, ask.height)) {
        let why = format!(
            "{model} makes 1024x1024, 1536x1024 or 1024x1536, not {}x{}; resize afterwards",
            ask.width, ask.height
        );
        return Err(call.unsupported("width/height", why));
    }
    Ok(())
}

/// The generations body.
pub fn body(model: &str, ask: &Ask) -> Value {
    let mut body =
        json!({ "model": model, "prompt": ask.prompt, "n": 1, "size": format!("{}x{}", ask.width, ask.height) });
    put(&mut body, "quality", ask.quality.as_ref());
    body
}

/// The edits form: the input image as `image[]`, with model, prompt and quality.
fn edit_form(model: &str, ask: &Ask, png: &[u8]) -> Form {
    let image = Part::bytes(png.to_vec())
        .file_name("image.png")
        .mime_str("image/png")
        .unwrap_or_else(|_| Part::bytes(png.to_vec()));
    let mut form = Form::new()
        .text("model", model.to_string())
        .text("prompt", ask.prompt.clone())
        .text("n", "1")
        .part("image[]", image);
    if let Some(q) = &ask.quality {
        form = form.text("quality", q.clone());
    }
    form
}

/// Generates or edits one image.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    check(call, model, ask)?;
    let http = call.client.http()?;
    let reply = match ask.capability {
        Capability::TextToImage => {
            let (url, body) = (call.url("/v1/images/generations"), body(model, ask));
            call.create(|| http.post(&url).json(&body)).await?
        }
        _ => {
            let (url, png) = (call.url("/v1/images/edits"), ask.input_image(call.name())?);
            call.create(|| http.post(&url).multipart(edit_form(model, ask, png))).await?
        }
    };
    let rid = reply.request_id.clone();
    let doc = reply.json(call.name());
    if !reply.status.is_success() {
        let doc = doc.unwrap_or_default();
        let e = &doc["error"];
        let moderated = matches!(e["code"].as_str(), Some("moderation_blocked" | "content_policy_violation"))
            || e["type"].as_str() == Some("image_generation_user_error");
        return Err(call.refusal(reply.status.as_u16(), rid, e["message"].as_str().unwrap_or("no message"), moderated));
    }
    let doc = doc?;
    let b64 = doc["data"][0]["b64_json"].as_str().ok_or_else(|| call.malformed(rid.clone(), "no data[0].b64_json"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| call.malformed(rid.clone(), "b64_json is not base64"))?;
    let mut usage = Usage::request(rid);
    usage.meter("input_tokens", doc["usage"]["input_tokens"].as_f64());
    usage.meter("output_tokens", doc["usage"]["output_tokens"].as_f64());
    Ok(Generated { bytes, media_type: "image/png".into(), usage })
}
