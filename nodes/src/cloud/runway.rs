//! Runway: `POST /v1/image_to_video` (bearer, `X-Runway-Version`) answers `{id}`; the task is
//! polled at `GET /v1/tasks/{id}` (`PENDING`, `THROTTLED` while queued behind the account's
//! concurrency, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED`) and cancelled with
//! `DELETE /v1/tasks/{id}`. No idempotency key exists, so an ambiguous create is never re-sent.

use serde_json::{Value, json};

use super::ask::{Ask, Generated, Usage};
use super::call::{Call, Polled, put};
use super::error::CloudError;

/// The API version this adapter speaks.
pub const VERSION: &str = "2024-11-06";
const RATIOS: &[&str] = &["1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"];

/// The create body for `ask`.
fn body(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Value, CloudError> {
    if ask.negative_prompt.is_some() {
        return Err(call.unsupported("negative_prompt", "Runway takes no negative prompt; say it in the prompt"));
    }
    let duration = ask.duration_s.unwrap_or(5);
    if !(2..=10).contains(&duration) {
        return Err(call.unsupported("duration_s", format!("Runway makes 2 to 10 seconds, not {duration}")));
    }
    let mut body = json!({
        "model": model,
        "promptImage": ask.image_data_uri(call.name())?,
        "ratio": ask.ratio_from(call.name(), RATIOS, ':')?,
        "duration": duration,
    });
    if !ask.prompt.trim().is_empty() {
        body["promptText"] = json!(ask.prompt);
    }
    put(&mut body, "seed", ask.seed);
    Ok(body)
}

/// Creates the task, polls it, downloads the video.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let body = body(call, model, ask)?;
    let http = call.client.http()?;
    let url = call.url("/v1/image_to_video");
    let reply = call.create(|| http.post(&url).header("x-runway-version", VERSION).json(&body)).await?;
    let rid = reply.request_id.clone();
    let id = call.created_json(&reply, rid.clone())?["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| call.malformed(rid.clone(), "no id"))?;
    let task_url = call.url(&format!("/v1/tasks/{id}"));
    let cancel = || http.delete(&task_url).header("x-runway-version", VERSION);
    let video = call.poll(&id, || poll_once(call, &id, &task_url), Some(&cancel)).await?;
    let (bytes, media_type) = call.download(&video, "video/").await?;
    let mut usage = Usage::task(&id);
    usage.request_id = rid;
    usage.meter("duration_s", Some(f64::from(ask.duration_s.unwrap_or(5))));
    Ok(Generated { bytes, media_type, usage })
}

async fn poll_once(call: &Call<'_>, id: &str, url: &str) -> Result<Polled<String>, CloudError> {
    let http = call.client.http()?;
    let reply = call.read(|| http.get(url).header("x-runway-version", VERSION)).await?;
    let doc = call.read_json(&reply, Some(id.into()))?;
    match doc["status"].as_str().unwrap_or("") {
        "PENDING" | "THROTTLED" => Ok(Polled::Pending(Some(0.0))),
        "RUNNING" => Ok(Polled::Pending(doc["progress"].as_f64())),
        "SUCCEEDED" => doc["output"][0]
            .as_str()
            .map(|u| Polled::Done(u.to_string()))
            .ok_or_else(|| call.malformed(Some(id.into()), "SUCCEEDED without output[0]")),
        "FAILED" => {
            let code = doc["failureCode"].as_str().unwrap_or("");
            let message = format!("{code}: {}", doc["failure"].as_str().unwrap_or("no message"));
            if code.starts_with("SAFETY") {
                return Err(call.refusal(200, Some(id.into()), &message, true));
            }
            Err(call.failed(id, &message))
        }
        "CANCELLED" => Err(call.failed(id, "the task was cancelled at the provider")),
        other => Err(call.malformed(Some(id.into()), format!("unknown status {other:?}"))),
    }
}
