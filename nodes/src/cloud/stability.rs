//! Stability AI v2beta: multipart `POST /v2beta/stable-image/generate/{ultra|core|sd3}` and
//! `/upscale/{fast|conservative}` answer at once with the image bytes (`accept: image/*`,
//! `finish-reason` header); `/upscale/creative` answers `{id}` and is polled at
//! `GET /v2beta/results/{id}` (202 while running). No idempotency key exists, so an ambiguous
//! create is never re-sent. Stability meters nothing in its replies: the price is its table.

use base64::Engine as _;
use reqwest::multipart::{Form, Part};

use super::ask::{Ask, Capability, Generated, Usage};
use super::call::{Call, Polled, error_message};
use super::client::Reply;
use super::error::CloudError;

const RATIOS: &[&str] = &["21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21"];

/// The endpoint path and the form for `ask`, or the param Stability cannot honour.
fn request(call: &Call<'_>, model: &str, ask: &Ask) -> Result<(String, Form), CloudError> {
    for (set, param) in [(ask.steps.is_some(), "steps"), (ask.quality.is_some(), "quality")] {
        if set {
            return Err(
                call.unsupported(param, format!("Stability's v2beta API has no {param}; set it to its default"))
            );
        }
    }
    let mut form = Form::new().text("output_format", "png");
    let text = |form: Form, name: &'static str, v: &Option<String>| match v {
        Some(v) => form.text(name, v.clone()),
        None => form,
    };
    let path = match ask.capability {
        Capability::Upscale => {
            if ask.scale != Some(4) {
                return Err(call.unsupported("scale", "Stability's upscalers have a fixed target (fast: 4x; conservative and creative: about 4 MP); set scale to 4"));
            }
            if model != "fast" && ask.prompt.trim().is_empty() {
                return Err(
                    call.unsupported("prompt", format!("stability:{model} needs a prompt describing the image"))
                );
            }
            if model == "fast" && !ask.prompt.trim().is_empty() {
                return Err(call.unsupported(
                    "prompt",
                    "stability:fast takes no prompt; clear it, or pick conservative or creative",
                ));
            }
            if !matches!(model, "fast" | "conservative" | "creative") {
                return Err(call.unsupported(
                    "model",
                    format!("Stability upscalers are fast, conservative and creative, not {model}"),
                ));
            }
            if model != "fast" {
                form = form.text("prompt", ask.prompt.clone());
            }
            format!("/v2beta/stable-image/upscale/{model}")
        }
        _ => {
            let endpoint = match model {
                "ultra" | "core" => model,
                m if m.starts_with("sd3") => "sd3",
                other => {
                    return Err(call.unsupported(
                        "model",
                        format!(
                            "Stability models are ultra, core and sd3.5-large, -large-turbo or -medium, not {other}"
                        ),
                    ));
                }
            };
            if endpoint == "sd3" {
                form = form.text("model", model.to_string());
            }
            form = text(form.text("prompt", ask.prompt.clone()), "negative_prompt", &ask.negative_prompt);
            if ask.capability == Capability::ImageToImage {
                if endpoint == "core" {
                    return Err(
                        call.unsupported("image", "stability:core does not edit images; pick ultra or sd3.5-large")
                    );
                }
                form = form.text("strength", ask.strength.unwrap_or(0.6).to_string());
                if endpoint == "sd3" {
                    form = form.text("mode", "image-to-image");
                }
            } else {
                form = form.text("aspect_ratio", ask.ratio_from(call.name(), RATIOS, ':')?.to_string());
            }
            format!("/v2beta/stable-image/generate/{endpoint}")
        }
    };
    if let Some(png) = &ask.image {
        let part = Part::bytes(png.to_vec()).file_name("image.png").mime_str("image/png");
        form = form.part("image", part.map_err(|e| call.malformed(None, e.to_string()))?);
    }
    if let Some(seed) = ask.seed {
        form = form.text("seed", seed.to_string());
    }
    Ok((path, form))
}

/// Generates, edits or upscales one image.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let http = call.client.http()?;
    let path = request(call, model, ask)?.0;
    let url = call.url(&path);
    let asynchronous = ask.capability == Capability::Upscale && model == "creative";
    let accept = if asynchronous { "application/json" } else { "image/*" };
    let reply = call
        .create(|| {
            // Checked above; a form cannot be cloned, so each attempt builds its own.
            let form = request(call, model, ask).map(|(_, f)| f).unwrap_or_default();
            http.post(&url).header("accept", accept).multipart(form)
        })
        .await?;
    if !reply.status.is_success() {
        return Err(refusal(call, &reply));
    }
    if !asynchronous {
        return image_reply(call, reply, None);
    }
    let rid = reply.request_id.clone();
    let id = reply.json(call.name())?["id"].as_str().map(str::to_string).ok_or_else(|| call.malformed(rid, "no id"))?;
    let result = call.poll(&id, || poll_once(call, &id), None).await?;
    image_reply(call, result, Some(&id))
}

async fn poll_once(call: &Call<'_>, id: &str) -> Result<Polled<Reply>, CloudError> {
    let url = call.url(&format!("/v2beta/results/{id}"));
    let http = call.client.http()?;
    let reply = call.read(|| http.get(&url).header("accept", "application/json")).await?;
    match reply.status.as_u16() {
        202 => Ok(Polled::Pending(None)),
        200 => Ok(Polled::Done(reply)),
        404 => Err(call.failed(id, "the result was not found (results are kept for 24 hours)")),
        _ => Err(refusal(call, &reply)),
    }
}

/// The image in a sync reply (bytes, with `finish-reason`) or a result (JSON with `image`,
/// which some versions name `result`).
fn image_reply(call: &Call<'_>, reply: Reply, task: Option<&str>) -> Result<Generated, CloudError> {
    let rid = reply.request_id.clone();
    let mut usage = Usage::request(rid.clone());
    usage.task_id = task.map(str::to_string);
    let ctype = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (finish, bytes, media_type) = if ctype.starts_with("image/") {
        let finish = reply.headers.get("finish-reason").and_then(|v| v.to_str().ok()).unwrap_or("SUCCESS").to_string();
        (finish, reply.body, ctype)
    } else {
        let doc = reply.json(call.name())?;
        let b64 = doc["image"]
            .as_str()
            .or(doc["result"].as_str())
            .ok_or_else(|| call.malformed(rid.clone(), "no image in the result"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| call.malformed(rid.clone(), "the image is not base64"))?;
        (doc["finish_reason"].as_str().unwrap_or("SUCCESS").to_string(), bytes, "image/png".to_string())
    };
    match finish.as_str() {
        "SUCCESS" => Ok(Generated { bytes, media_type, usage }),
        "CONTENT_FILTERED" => Err(call.refusal(200, rid, "the result was filtered (CONTENT_FILTERED)", true)),
        other => Err(call.malformed(rid, format!("finish reason {other:?}"))),
    }
}

/// `{id, name, errors:[…]}`; 403 `content_moderation` is moderation, not auth.
fn refusal(call: &Call<'_>, reply: &Reply) -> CloudError {
    let doc = reply.json(call.name()).unwrap_or_default();
    let moderated = doc["name"].as_str() == Some("content_moderation");
    let message = format!("{}: {}", doc["name"].as_str().unwrap_or("error"), error_message(&doc));
    call.refusal(reply.status.as_u16(), reply.request_id.clone(), &message, moderated)
}
