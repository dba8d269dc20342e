//! fal queue: `POST /{model_id}` with `Authorization: Key …` answers `{request_id, …}`; the
//! request is polled at `GET /{app}/requests/{id}/status` (`IN_QUEUE`, `IN_PROGRESS`,
//! `COMPLETED`), its output read at `GET /{app}/requests/{id}`, and cancelled with
//! `PUT /{app}/requests/{id}/cancel` (`app` is the model id's first two segments). No
//! idempotency key exists, so an ambiguous submit is never re-sent.

use serde_json::{Value, json};

use super::ask::{Ask, Capability, Generated, Usage};
use super::call::{Call, Polled, put};
use super::error::CloudError;

/// The model's input for `ask`.
fn input(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Value, CloudError> {
    if ask.quality.is_some() {
        return Err(call.unsupported("quality", "fal models have no common quality setting; set quality to auto"));
    }
    if ask.negative_prompt.is_some() && model.contains("flux") {
        return Err(call.unsupported("negative_prompt", "Flux models take no negative prompt; say it in the prompt"));
    }
    let mut input = match ask.capability {
        Capability::Upscale => {
            json!({ "image_url": ask.image_data_uri(call.name())?, "upscale_factor": ask.scale.unwrap_or(4) })
        }
        Capability::ImageToVideo => json!({
            "prompt": ask.prompt,
            "image_url": ask.image_data_uri(call.name())?,
            "duration": ask.duration_s.unwrap_or(5).to_string(),
        }),
        _ => json!({
            "prompt": ask.prompt,
            "image_size": { "width": ask.width, "height": ask.height },
            "num_images": 1,
            "output_format": "png",
        }),
    };
    put(&mut input, "negative_prompt", ask.negative_prompt.as_ref());
    put(&mut input, "num_inference_steps", ask.steps);
    put(&mut input, "seed", ask.seed);
    Ok(input)
}

/// Submits, waits in the queue, reads the output and downloads it.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let input = input(call, model, ask)?;
    let app = model.split('/').take(2).collect::<Vec<_>>().join("/");
    if app.split('/').count() != 2 {
        return Err(call.unsupported("model", format!("{model:?} is not a fal model id such as fal-ai/flux/dev")));
    }
    let http = call.client.http()?;
    let url = call.url(&format!("/{model}"));
    let reply = call.create(|| http.post(&url).json(&input)).await?;
    let doc = call.created_json(&reply, reply.request_id.clone());
    let id = doc?["request_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| call.malformed(reply.request_id.clone(), "no request_id"))?;
    let base = call.url(&format!("/{app}/requests/{id}"));
    let cancel_url = format!("{base}/cancel");
    let cancel = || http.put(&cancel_url);
    call.poll(&id, || poll_once(call, &id, &base), Some(&cancel)).await?;
    let reply = call.read(|| http.get(&base)).await?;
    let output = call.read_json(&reply, Some(id.clone()))?;
    let kind = if ask.capability == Capability::ImageToVideo { "video/" } else { "image/" };
    let file =
        output["images"][0]["url"].as_str().or(output["image"]["url"].as_str()).or(output["video"]["url"].as_str());
    let file = file.ok_or_else(|| call.malformed(Some(id.clone()), "no images[0].url, image.url or video.url"))?;
    let (bytes, media_type) = call.download(file, kind).await?;
    Ok(Generated { bytes, media_type, usage: Usage::task(&id) })
}

async fn poll_once(call: &Call<'_>, id: &str, base: &str) -> Result<Polled<()>, CloudError> {
    let url = format!("{base}/status");
    let http = call.client.http()?;
    let reply = call.read(|| http.get(&url)).await?;
    let doc = call.read_json(&reply, Some(id.into()))?;
    match doc["status"].as_str().unwrap_or("") {
        "IN_QUEUE" | "IN_PROGRESS" => Ok(Polled::Pending(None)),
        "COMPLETED" if doc["error"].is_null() => Ok(Polled::Done(())),
        "COMPLETED" => {
            let message = doc["error"].as_str().unwrap_or("no message");
            let kind = doc["error_type"].as_str().unwrap_or("");
            if kind.contains("content_policy") || kind.contains("moderation") {
                return Err(call.refusal(200, Some(id.into()), message, true));
            }
            Err(call.failed(id, &format!("{kind} {message}")))
        }
        other => Err(call.malformed(Some(id.into()), format!("unknown status {other:?}"))),
    }
}
