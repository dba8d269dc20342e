//! Ideogram v3: multipart `POST /v1/ideogram-v3/generate` with `Api-Key` answers at once with
//! `{created, data:[{url, is_image_safe, seed, resolution}]}`; the URL is downloaded. Quality
//! maps to `rendering_speed`. No idempotency key exists, so an ambiguous create is never
//! re-sent.

use reqwest::multipart::Form;

use super::ask::{Ask, Generated, Usage};
use super::call::{Call, error_message};
use super::error::CloudError;

const RATIOS: &[&str] =
    &["1x3", "3x1", "1x2", "2x1", "9x16", "16x9", "10x16", "16x10", "2x3", "3x2", "3x4", "4x3", "4x5", "5x4", "1x1"];

fn form(call: &Call<'_>, ask: &Ask) -> Result<Form, CloudError> {
    if ask.steps.is_some() {
        return Err(call.unsupported("steps", "Ideogram takes no steps; use quality to trade speed for detail"));
    }
    let speed = match ask.quality.as_deref() {
        None => "DEFAULT",
        Some("low") => "TURBO",
        Some("medium") => "DEFAULT",
        Some(_) => "QUALITY",
    };
    let ratio = ask.ratio_from(call.name(), RATIOS, 'x')?;
    let mut form = Form::new()
        .text("prompt", ask.prompt.clone())
        .text("aspect_ratio", ratio.to_string())
        .text("rendering_speed", speed)
        .text("num_images", "1")
        .text("magic_prompt", "OFF");
    if let Some(n) = &ask.negative_prompt {
        form = form.text("negative_prompt", n.clone());
    }
    if let Some(seed) = ask.seed {
        form = form.text("seed", seed.to_string());
    }
    Ok(form)
}

/// Generates one image.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    if model != "v3" {
        return Err(call.unsupported("model", format!("this adapter speaks Ideogram v3 (ideogram:v3), not {model}")));
    }
    form(call, ask)?;
    let http = call.client.http()?;
    let url = call.url("/v1/ideogram-v3/generate");
    // Checked above; a form cannot be cloned, so each attempt builds its own.
    let reply = call.create(|| http.post(&url).multipart(form(call, ask).unwrap_or_default())).await?;
    let rid = reply.request_id.clone();
    let doc = reply.json(call.name());
    if !reply.status.is_success() {
        let message = error_message(&doc.unwrap_or_default());
        let moderated = message.to_lowercase().contains("safety");
        return Err(call.refusal(reply.status.as_u16(), rid, &message, moderated));
    }
    let doc = doc?;
    let image = &doc["data"][0];
    if image["is_image_safe"].as_bool() == Some(false) {
        return Err(call.refusal(200, rid, "the result was marked unsafe (is_image_safe: false)", true));
    }
    let url = image["url"].as_str().ok_or_else(|| call.malformed(rid.clone(), "no data[0].url"))?;
    let (bytes, media_type) = call.download(url, "image/").await?;
    Ok(Generated { bytes, media_type, usage: Usage::request(rid) })
}
