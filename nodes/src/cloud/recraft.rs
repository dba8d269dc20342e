//! Recraft: `POST /v1/images/generations` (bearer, JSON) answers `{created, credits,
//! data:[{image_id, url}]}`; `POST /v1/images/removeBackground` (multipart `file`) answers
//! `{created, credits, image:{url}}`. `credits` (units of $0.001) is kept for metering. No
//! idempotency key exists, so an ambiguous create is never re-sent.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::ask::{Ask, Capability, Generated, Usage};
use super::call::{Call, error_message, put};
use super::error::CloudError;

const SIZES: &[&str] = &[
    "1024x1024",
    "1365x1024",
    "1024x1365",
    "1536x1024",
    "1024x1536",
    "1820x1024",
    "1024x1820",
    "1024x2048",
    "2048x1024",
    "1434x1024",
    "1024x1434",
    "1024x1280",
    "1280x1024",
    "1024x1707",
    "1707x1024",
];

fn body(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Value, CloudError> {
    let unsupported =
        [(ask.seed.is_some(), "seed"), (ask.steps.is_some(), "steps"), (ask.quality.is_some(), "quality")];
    if let Some((_, param)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(call.unsupported(param, format!("Recraft takes no {param}; set it to its default")));
    }
    let size = format!("{}x{}", ask.width, ask.height);
    if !SIZES.contains(&size.as_str()) {
        return Err(call.unsupported("width/height", format!("Recraft makes {}, not {size}", SIZES.join(", "))));
    }
    let mut body = json!({ "prompt": ask.prompt, "model": model, "size": size, "n": 1, "response_format": "url" });
    put(&mut body, "negative_prompt", ask.negative_prompt.as_ref());
    Ok(body)
}

/// Generates one image, or removes one image's background.
pub async fn generate(call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    let http = call.client.http()?;
    let reply = if ask.capability == Capability::RemoveBackground {
        if model != "remove-background" {
            return Err(call.unsupported("model", "Recraft's background removal is recraft:remove-background"));
        }
        let png = ask.input_image(call.name())?;
        let url = call.url("/v1/images/removeBackground");
        let part = || Part::bytes(png.to_vec()).file_name("image.png");
        call.create(|| http.post(&url).multipart(Form::new().part("file", part()))).await?
    } else {
        let (url, body) = (call.url("/v1/images/generations"), body(call, model, ask)?);
        call.create(|| http.post(&url).json(&body)).await?
    };
    let rid = reply.request_id.clone();
    let doc = reply.json(call.name());
    if !reply.status.is_success() {
        let doc = doc.unwrap_or_default();
        let moderated = doc["code"].as_str().is_some_and(|c| c.contains("moderation") || c.contains("nsfw"));
        return Err(call.refusal(reply.status.as_u16(), rid, &error_message(&doc), moderated));
    }
    let doc = doc?;
    let url = doc["image"]["url"].as_str().or(doc["data"][0]["url"].as_str());
    let url = url.ok_or_else(|| call.malformed(rid.clone(), "no image.url or data[0].url"))?;
    let (bytes, media_type) = call.download(url, "image/").await?;
    let mut usage = Usage::request(rid);
    usage.task_id = doc["data"][0]["image_id"].as_str().map(str::to_string);
    usage.meter("credits", doc["credits"].as_f64());
    Ok(Generated { bytes, media_type, usage })
}
