//! Black Forest Labs (Flux): `POST /v1/{model}` with `x-key` returns `{id, polling_url, cost}`;
//! the task is polled until `Ready`, then `result.sample` is downloaded. No idempotency key
//! and no lookup by client id exist, so an ambiguous create is never re-sent.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::ask::{Generated, ImageAsk, Usage};
use super::client::{ProviderClient, Resend};
use super::error::CloudError;

const NAME: &str = "bfl";

/// The request body for `ask`, or the portable param this API cannot honour.
pub fn body(model: &str, ask: &ImageAsk) -> Result<Value, CloudError> {
    let unsupported = |param, why: String| CloudError::Unsupported { provider: NAME, param, why };
    if ask.negative_prompt.is_some() {
        return Err(unsupported("negative_prompt", "Flux takes no negative prompt; say it in the prompt".into()));
    }
    if ask.quality.is_some() {
        return Err(unsupported(
            "quality",
            "Flux has no quality setting; set quality to auto, or pick a pro or max model".into(),
        ));
    }
    let max = if model.starts_with("flux-2") { 2048 } else { 1440 };
    for (name, v) in [("width", ask.width), ("height", ask.height)] {
        if !(256..=max).contains(&v) || v % 32 != 0 {
            let why = format!("{model} takes {name} from 256 to {max} in steps of 32, not {v}");
            return Err(unsupported(if name == "width" { "width" } else { "height" }, why));
        }
    }
    let mut body = json!({ "prompt": ask.prompt, "width": ask.width, "height": ask.height, "output_format": "png" });
    if let Some(seed) = ask.seed {
        body["seed"] = json!(seed);
    }
    Ok(body)
}

/// Generates one image: create, poll, download.
pub async fn text_to_image(
    c: &ProviderClient,
    model: &str,
    ask: &ImageAsk,
    cancel: &CancellationToken,
    deadline: Instant,
    progress: &(dyn Fn(f64) + Send + Sync),
) -> Result<Generated, CloudError> {
    let body = body(model, ask)?;
    let key = c.key()?;
    let url = format!("{}/v1/{model}", c.base_url);
    let reply = c
        .send(Resend::OnlyIfRefused, cancel, deadline, || c.http().post(&url).header("x-key", key.expose()).json(&body))
        .await?;
    let doc = reply.json(NAME);
    if !reply.status.is_success() {
        return Err(error_reply(c, reply.status.as_u16(), &doc.unwrap_or_default()));
    }
    let doc = doc?;
    let malformed = |detail: String| CloudError::Malformed { provider: NAME, request_id: None, detail };
    let id = doc["id"].as_str().ok_or_else(|| malformed("no id in the create reply".into()))?.to_string();
    let polling_url = doc["polling_url"].as_str().ok_or_else(|| malformed("no polling_url".into()))?;
    if !same_origin(&c.base_url, polling_url) {
        return Err(malformed(format!(
            "polling_url {polling_url:?} is not on {}; the key is not sent there",
            c.base_url
        )));
    }
    let mut usage = Usage { request_id: None, task_id: Some(id.clone()), metered: Vec::new() };
    if let Some(cents) = doc["cost"].as_f64() {
        usage.metered.push(("cost_usd_cents", cents));
    }
    let sample = poll(c, &id, polling_url, key.expose(), cancel, deadline, progress).await?;
    let bytes = c.download(&sample, "image/", cancel, deadline).await?;
    Ok(Generated { bytes, usage })
}

/// Polls until `Ready`, returning `result.sample`; bounded by `max_polls` and the deadline.
async fn poll(
    c: &ProviderClient,
    id: &str,
    url: &str,
    key: &str,
    cancel: &CancellationToken,
    deadline: Instant,
    progress: &(dyn Fn(f64) + Send + Sync),
) -> Result<String, CloudError> {
    let task = || Some(id.to_string());
    for _ in 0..c.config.max_polls {
        if Instant::now() + Duration::from_millis(c.config.poll_interval_ms) > deadline {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(c.config.poll_interval_ms)) => {}
            () = cancel.cancelled() => return Err(CloudError::Cancelled),
        }
        let reply = c.send(Resend::Safe, cancel, deadline, || c.http().get(url).header("x-key", key)).await?;
        let doc = reply.json(NAME)?;
        if !reply.status.is_success() {
            return Err(error_reply(c, reply.status.as_u16(), &doc));
        }
        let message = || c.redact(&doc["details"].to_string());
        match doc["status"].as_str().unwrap_or("") {
            "Ready" => {
                return doc["result"]["sample"].as_str().map(str::to_string).ok_or_else(|| CloudError::Malformed {
                    provider: NAME,
                    request_id: task(),
                    detail: "Ready without result.sample".into(),
                });
            }
            "Pending" => progress(doc["progress"].as_f64().unwrap_or(0.0)),
            "Request Moderated" | "Content Moderated" => {
                return Err(CloudError::Moderated { provider: NAME, request_id: task(), message: message() });
            }
            "Error" | "Task not found" => {
                let status = doc["status"].as_str().unwrap_or("");
                return Err(CloudError::JobFailed {
                    provider: NAME,
                    request_id: task(),
                    message: format!("{status} {}", message()),
                });
            }
            other => {
                return Err(CloudError::Malformed {
                    provider: NAME,
                    request_id: task(),
                    detail: format!("unknown status {other:?}"),
                });
            }
        }
    }
    Err(CloudError::TimedOut { provider: NAME, limit_ms: c.config.overall_timeout_ms, task: id.to_string() })
}

fn error_reply(c: &ProviderClient, status: u16, doc: &Value) -> CloudError {
    let message = match &doc["detail"] {
        Value::String(s) => c.redact(s),
        Value::Array(items) => items
            .iter()
            .map(|d| {
                format!(
                    "{}: {}",
                    d["loc"].as_array().map_or(String::new(), |l| l
                        .iter()
                        .map(|p| p.to_string().replace('"', ""))
                        .collect::<Vec<_>>()
                        .join(".")),
                    d["msg"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => c.redact(&other.to_string()),
    };
    match status {
        401 | 403 => CloudError::Auth { provider: NAME, request_id: None, message, hint: c.key_hint.clone() },
        _ => CloudError::Invalid { provider: NAME, request_id: None, message: format!("HTTP {status}: {message}") },
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
