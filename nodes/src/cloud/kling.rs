//! Kling: `POST /v1/videos/image2video` with a per-request HS256 JWT answers
//! `{code, message, request_id, data:{task_id, task_status}}`; the task is polled at
//! `GET /v1/videos/image2video/{id}` until `succeed`, whose `final_unit_deduction` is kept
//! for metering. Every create carries a client-chosen `external_task_id`: after an ambiguous
//! failure the task is looked up by it, and the create is sent again only when Kling has no
//! such task (Kling refuses a second task with the same id, so even that cannot pay twice).

use base64::Engine as _;
use serde_json::{Value, json};

use super::ask::{Ask, Generated, Usage};
use super::call::{Call, Polled, put};
use super::client::Reply;
use super::error::CloudError;

const PATH: &str = "/v1/videos/image2video";

fn body(call: &Call<'_>, model: &str, ask: &Ask, external_id: &str) -> Result<Value, CloudError> {
    if ask.seed.is_some() {
        return Err(call.unsupported("seed", "Kling takes no seed; set seed to -1"));
    }
    let duration = ask.duration_s.unwrap_or(5);
    if duration != 5 && duration != 10 {
        return Err(call.unsupported("duration_s", format!("Kling makes 5 or 10 seconds, not {duration}")));
    }
    let png = ask.input_image(call.name())?;
    let mut body = json!({
        "model_name": model,
        "image": base64::engine::general_purpose::STANDARD.encode(png),
        "duration": duration.to_string(),
        "mode": "std",
        "external_task_id": external_id,
    });
    if !ask.prompt.trim().is_empty() {
        body["prompt"] = json!(ask.prompt);
    }
    put(&mut body, "negative_prompt", ask.negative_prompt.as_ref());
    Ok(body)
}

/// Creates the task (recovering an ambiguous create by its external id), polls, downloads.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let external_id = format!("sy-{:032x}", rand::random::<u128>());
    let body = body(call, model, ask, &external_id)?;
    let data = create(call, &body, &external_id).await?;
    let id = data["task_id"].as_str().map(str::to_string).ok_or_else(|| call.malformed(None, "no data.task_id"))?;
    let url = call.url(&format!("{PATH}/{id}"));
    let done = call.poll(&id, || poll_once(call, &id, &url), None).await?;
    let video = done["task_result"]["videos"][0]["url"].as_str();
    let video = video.ok_or_else(|| call.malformed(Some(id.clone()), "succeed without task_result.videos[0].url"))?;
    let (bytes, media_type) = call.download(video, "video/").await?;
    let mut usage = Usage::task(&id);
    let units = &done["final_unit_deduction"];
    usage.meter("units", units.as_f64().or_else(|| units.as_str().and_then(|s| s.parse().ok())));
    Ok(Generated { bytes, media_type, usage })
}

/// The created task's `data`. An ambiguous create is looked up by its external id and sent
/// again only when no such task exists.
async fn create(call: &Call<'_>, body: &Value, external_id: &str) -> Result<Value, CloudError> {
    let http = call.client.http()?;
    let url = call.url(PATH);
    match call.create(|| http.post(&url).json(body)).await {
        Ok(reply) => envelope(call, &reply),
        Err(CloudError::OutcomeUnknown { what, .. }) => {
            tracing::warn!(provider = call.name(), external_id, %what, "create outcome unknown; looking it up");
            let lookup_url = call.url(&format!("{PATH}/{external_id}"));
            let found = call.read(|| http.get(&lookup_url)).await?;
            if found.status.is_success() {
                return envelope(call, &found);
            }
            if found.status.as_u16() != 404 {
                return Err(CloudError::OutcomeUnknown { provider: call.name(), what });
            }
            let again = call.create(|| http.post(&url).json(body)).await?;
            match envelope(call, &again) {
                Ok(data) => Ok(data),
                Err(refused) => {
                    // Kling refuses a duplicate id: the first create may have landed late, and
                    // that task is the one to follow.
                    let late = call.read(|| http.get(&lookup_url)).await?;
                    if late.status.is_success() { envelope(call, &late) } else { Err(refused) }
                }
            }
        }
        Err(e) => Err(e),
    }
}

/// `data` from `{code, message, request_id, data}`, or the error its code names.
fn envelope(call: &Call<'_>, reply: &Reply) -> Result<Value, CloudError> {
    let doc = reply.json(call.name())?;
    let code = doc["code"].as_i64().unwrap_or(-1);
    if reply.status.is_success() && code == 0 {
        return Ok(doc["data"].clone());
    }
    let rid = doc["request_id"].as_str().map(str::to_string).or_else(|| reply.request_id.clone());
    let message = format!("code {code}: {}", doc["message"].as_str().unwrap_or("no message"));
    let status = if (1000..=1004).contains(&code) { 401 } else { reply.status.as_u16().max(400) };
    Err(call.refusal(status, rid, &message, code == 1301))
}

async fn poll_once(call: &Call<'_>, id: &str, url: &str) -> Result<Polled<Value>, CloudError> {
    let http = call.client.http()?;
    let reply = call.read(|| http.get(url)).await?;
    let data = envelope(call, &reply)?;
    match data["task_status"].as_str().unwrap_or("") {
        "submitted" | "processing" => Ok(Polled::Pending(None)),
        "succeed" => Ok(Polled::Done(data)),
        "failed" => {
            let message = data["task_status_msg"].as_str().unwrap_or("no message");
            let lower = message.to_lowercase();
            if lower.contains("risk") || lower.contains("policy") {
                return Err(call.refusal(200, Some(id.into()), message, true));
            }
            Err(call.failed(id, message))
        }
        other => Err(call.malformed(Some(id.into()), format!("unknown task_status {other:?}"))),
    }
}
