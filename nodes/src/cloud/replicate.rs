//! Replicate: `POST /v1/models/{owner}/{name}/predictions` (or `/v1/predictions` with a
//! `version` for `owner/name:version`) with `Prefer: wait`, so short jobs answer at once;
//! longer ones are polled at `GET /v1/predictions/{id}` and cancelled with
//! `POST /v1/predictions/{id}/cancel`. `metrics.predict_time` is kept for metering. No
//! idempotency key exists, so an ambiguous create is never re-sent.

use serde_json::{Value, json};

use super::ask::{Ask, Capability, Generated, Usage};
use super::call::{Call, Polled, put};
use super::error::CloudError;

const RATIOS: &[&str] = &["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"];

/// The model's `input` for `ask`.
fn input(call: &Call<'_>, ask: &Ask) -> Result<Value, CloudError> {
    if ask.quality.is_some() {
        return Err(call.unsupported("quality", "Replicate models have no common quality setting; set quality to auto"));
    }
    let mut input = json!({});
    match ask.capability {
        Capability::Upscale => {
            input["image"] = json!(ask.image_data_uri(call.name())?);
            input["scale"] = json!(ask.scale.unwrap_or(4));
        }
        _ => {
            input["prompt"] = json!(ask.prompt);
            input["aspect_ratio"] = json!(ask.ratio_from(call.name(), RATIOS, ':')?);
            input["output_format"] = json!("png");
            put(&mut input, "negative_prompt", ask.negative_prompt.as_ref());
            put(&mut input, "num_inference_steps", ask.steps);
        }
    }
    put(&mut input, "seed", ask.seed);
    Ok(input)
}

/// Runs one prediction and downloads its first output.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let input = input(call, ask)?;
    let (url, body) = match model.split_once(':') {
        Some((_, version)) => (call.url("/v1/predictions"), json!({ "version": version, "input": input })),
        None if model.split('/').count() == 2 => {
            (call.url(&format!("/v1/models/{model}/predictions")), json!({ "input": input }))
        }
        None => return Err(call.unsupported("model", format!("{model:?} is not owner/name or owner/name:version"))),
    };
    let http = call.client.http()?;
    let reply = call.create(|| http.post(&url).header("prefer", "wait").json(&body)).await?;
    let prediction = call.created_json(&reply, reply.request_id.clone())?;
    let id = prediction["id"].as_str().ok_or_else(|| call.malformed(reply.request_id.clone(), "no id"))?.to_string();
    let done = match state(call, &id, prediction)? {
        Polled::Done(p) => p,
        Polled::Pending(_) => {
            let cancel_url = call.url(&format!("/v1/predictions/{id}/cancel"));
            let cancel = || http.post(&cancel_url);
            call.poll(&id, || poll_once(call, &id), Some(&cancel)).await?
        }
    };
    let mut usage = Usage::task(&id);
    usage.request_id = reply.request_id;
    usage.meter("predict_time_s", done["metrics"]["predict_time"].as_f64());
    let out = first_url(&done["output"]).ok_or_else(|| call.malformed(Some(id.clone()), "no output URL"))?;
    let (bytes, media_type) = call.download(&out, "image/").await?;
    Ok(Generated { bytes, media_type, usage })
}

async fn poll_once(call: &Call<'_>, id: &str) -> Result<Polled<Value>, CloudError> {
    let url = call.url(&format!("/v1/predictions/{id}"));
    let http = call.client.http()?;
    let reply = call.read(|| http.get(&url)).await?;
    let doc = call.created_json(&reply, reply.request_id.clone())?;
    state(call, id, doc)
}

fn state(call: &Call<'_>, id: &str, doc: Value) -> Result<Polled<Value>, CloudError> {
    match doc["status"].as_str().unwrap_or("") {
        "succeeded" => Ok(Polled::Done(doc)),
        "starting" | "processing" => Ok(Polled::Pending(None)),
        "failed" => {
            let message = doc["error"].as_str().unwrap_or("no message");
            let lower = message.to_lowercase();
            if lower.contains("nsfw") || lower.contains("sensitive") || lower.contains("safety") {
                return Err(call.refusal(200, Some(id.into()), message, true));
            }
            Err(call.failed(id, message))
        }
        "canceled" => Err(call.failed(id, "the prediction was cancelled at the provider")),
        other => Err(call.malformed(Some(id.into()), format!("unknown status {other:?}"))),
    }
}

/// The first URL in an output that is a URL, a list, or an object holding them.
fn first_url(output: &Value) -> Option<String> {
    match output {
        Value::String(s) if s.starts_with("http") => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(first_url),
        Value::Object(map) => map.values().find_map(first_url),
        _ => None,
    }
}
