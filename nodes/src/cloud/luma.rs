//! Luma Dream Machine: `POST /dream-machine/v1/generations/image` (bearer) answers a
//! generation `{id, state}`; it is polled at `GET /dream-machine/v1/generations/{id}`
//! (`queued`, `dreaming`, `completed` with `assets.image`, `failed`) and cancelled with
//! `DELETE` on the same path. No idempotency key exists, so an ambiguous create is never
//! re-sent.

use serde_json::{Value, json};

use super::ask::{Ask, Generated, Usage};
use super::call::{Call, Polled};
use super::error::CloudError;

const RATIOS: &[&str] = &["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"];

fn body(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Value, CloudError> {
    let unsupported = [
        (ask.negative_prompt.is_some(), "negative_prompt"),
        (ask.seed.is_some(), "seed"),
        (ask.steps.is_some(), "steps"),
        (ask.quality.is_some(), "quality"),
    ];
    if let Some((_, param)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(call.unsupported(param, format!("Luma's image API takes no {param}; set it to its default")));
    }
    Ok(json!({ "prompt": ask.prompt, "model": model, "aspect_ratio": ask.ratio_from(call.name(), RATIOS, ':')? }))
}

/// Creates the generation, polls it, downloads the image.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let body = body(call, model, ask)?;
    let http = call.client.http()?;
    let url = call.url("/dream-machine/v1/generations/image");
    let reply = call.create(|| http.post(&url).json(&body)).await?;
    let rid = reply.request_id.clone();
    let id = call.created_json(&reply, rid.clone())?["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| call.malformed(rid.clone(), "no id"))?;
    let gen_url = call.url(&format!("/dream-machine/v1/generations/{id}"));
    let cancel = || http.delete(&gen_url);
    let image = call.poll(&id, || poll_once(call, &id, &gen_url), Some(&cancel)).await?;
    let (bytes, media_type) = call.download(&image, "image/").await?;
    let mut usage = Usage::task(&id);
    usage.request_id = rid;
    Ok(Generated { bytes, media_type, usage })
}

async fn poll_once(call: &Call<'_>, id: &str, url: &str) -> Result<Polled<String>, CloudError> {
    let http = call.client.http()?;
    let reply = call.read(|| http.get(url)).await?;
    let doc = call.read_json(&reply, Some(id.into()))?;
    match doc["state"].as_str().unwrap_or("") {
        "queued" | "dreaming" => Ok(Polled::Pending(None)),
        "completed" => doc["assets"]["image"]
            .as_str()
            .map(|u| Polled::Done(u.to_string()))
            .ok_or_else(|| call.malformed(Some(id.into()), "completed without assets.image")),
        "failed" => {
            let reason = doc["failure_reason"].as_str().unwrap_or("no reason");
            let moderated = reason.to_lowercase().contains("moderation");
            if moderated {
                return Err(call.refusal(200, Some(id.into()), reason, true));
            }
            Err(call.failed(id, reason))
        }
        other => Err(call.malformed(Some(id.into()), format!("unknown state {other:?}"))),
    }
}
