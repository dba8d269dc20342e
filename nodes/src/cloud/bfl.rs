//! Black Forest Labs (Flux): `POST /v1/{model}` with `x-key` returns `{id, polling_url, cost}`;
//! the task is polled until `Ready`, then `result.sample` is downloaded. Image-to-image sends
//! the input as `input_image` (Kontext and Flux 2). No idempotency key and no lookup by a
//! client id exist, so an ambiguous create is never re-sent.

use base64::Engine as _;
use serde_json::{Value, json};

use super::ask::{Ask, Capability, Generated, Usage};
use super::call::{Call, Polled, put};
use super::error::CloudError;

/// The request body for `ask`, or the portable param this API cannot honour.
pub fn body(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Value, CloudError> {
    if ask.negative_prompt.is_some() {
        return Err(call.unsupported("negative_prompt", "Flux takes no negative prompt; say it in the prompt"));
    }
    if ask.quality.is_some() {
        return Err(
            call.unsupported("quality", "Flux has no quality setting; set quality to auto, or pick a pro or max model")
        );
    }
    if ask.strength.is_some() {
        return Err(call.unsupported("strength", "Flux edits take no strength; describe the change in the prompt"));
    }
    let kontext = model.starts_with("flux-kontext");
    if ask.steps.is_some() && !kontext {
        return Err(call.unsupported("steps", format!("{model} takes no steps; only the flux-kontext models do")));
    }
    let mut body = json!({ "prompt": ask.prompt, "output_format": "png" });
    if ask.capability == Capability::ImageToImage {
        let png = ask.input_image(call.name())?;
        body["input_image"] = json!(base64::engine::general_purpose::STANDARD.encode(png));
    } else {
        let max = if model.starts_with("flux-2") { 2048 } else { 1440 };
        for (name, v) in [("width", ask.width), ("height", ask.height)] {
            if !(256..=max).contains(&v) || v % 32 != 0 {
                let why = format!("{model} takes {name} from 256 to {max} in steps of 32, not {v}");
                return Err(call.unsupported(if name == "width" { "width" } else { "height" }, why));
            }
        }
        body["width"] = json!(ask.width);
        body["height"] = json!(ask.height);
    }
    put(&mut body, "seed", ask.seed);
    put(&mut body, "steps", ask.steps);
    Ok(body)
}

/// Generates one image: create, poll, download.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let body = body(call, model, ask)?;
    let http = call.client.http()?;
    let url = call.url(&format!("/v1/{model}"));
    let reply = call.create(|| http.post(&url).json(&body)).await?;
    let doc = call.created_json(&reply, None)?;
    let id = doc["id"].as_str().ok_or_else(|| call.malformed(None, "no id in the create reply"))?.to_string();
    let polling_url = doc["polling_url"].as_str().ok_or_else(|| call.malformed(None, "no polling_url"))?;
    if !same_origin(&call.client.base_url, polling_url) {
        let detail =
            format!("polling_url {polling_url:?} is not on {}; the key is not sent there", call.client.base_url);
        return Err(call.malformed(None, detail));
    }
    let mut usage = Usage::task(&id);
    usage.meter("cost_usd_cents", doc["cost"].as_f64());
    let sample = call.poll(&id, || poll_once(call, &id, polling_url), None).await?;
    let (bytes, media_type) = call.download(&sample, "image/").await?;
    Ok(Generated { bytes, media_type, usage })
}

async fn poll_once(call: &Call<'_>, id: &str, url: &str) -> Result<Polled<String>, CloudError> {
    let http = call.client.http()?;
    let reply = call.read(|| http.get(url)).await?;
    let doc = call.read_json(&reply, None)?;
    let details = doc["details"].to_string();
    match doc["status"].as_str().unwrap_or("") {
        "Ready" => doc["result"]["sample"]
            .as_str()
            .map(|s| Polled::Done(s.to_string()))
            .ok_or_else(|| call.malformed(Some(id.into()), "Ready without result.sample")),
        "Pending" => Ok(Polled::Pending(doc["progress"].as_f64())),
        "Request Moderated" | "Content Moderated" => Err(call.refusal(200, Some(id.into()), &details, true)),
        status @ ("Error" | "Task not found") => Err(call.failed(id, &format!("{status} {details}"))),
        other => Err(call.malformed(Some(id.into()), format!("unknown status {other:?}"))),
    }
}

/// Whether `url` is on the base URL's scheme and host (or a regional `*.bfl.ai` host).
fn same_origin(base: &str, url: &str) -> bool {
    let (Ok(b), Ok(u)) = (reqwest::Url::parse(base), reqwest::Url::parse(url)) else { return false };
    let regional = u.scheme() == "https" && u.host_str().is_some_and(|h| h.ends_with(".bfl.ai"));
    regional
        || (b.scheme() == u.scheme()
            && b.host_str() == u.host_str()
            && b.port_or_known_default() == u.port_or_known_default())
}
