//! One case per adapter and capability: the node, its params, and the exact wire shape of its
//! paid create request. `"*"` in an expected body means "present, any value" (base64 images,
//! client-chosen ids); every other key and value must match, and no key may be extra.

use serde_json::{Value, json};
use switchyard_engine::ParamValue;

/// What a successful run yields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Yields {
    /// An image of this size.
    Image(u32, u32),
    /// An image and a mask of this size.
    Cutout(u32, u32),
    /// An MP4 file.
    Video,
    /// This many seconds of mono audio at this rate (within 10%).
    Speech(u32),
}

/// The request body's expected shape.
pub enum Body {
    /// JSON.
    Json(Value),
    /// Multipart fields: name and text value, or `"*"` for a file part.
    Form(&'static [(&'static str, &'static str)]),
}

pub struct Case {
    pub node: &'static str,
    pub provider: &'static str,
    pub params: Vec<(&'static str, ParamValue)>,
    /// An input image of this size, for nodes that take one.
    pub input: Option<(u32, u32)>,
    /// The paid create's route and its path (with query).
    pub create: (&'static str, &'static str),
    /// The auth header the create must carry: name and exact value (`None`: checked as a JWT).
    pub auth: (&'static str, Option<String>),
    pub body: Body,
    /// The poll route, for async adapters.
    pub poll: Option<&'static str>,
    /// The provider's cancel route, where it has one.
    pub cancel: Option<&'static str>,
    /// Whether the result comes from a download URL.
    pub download: bool,
    /// Whether the provider has a moderation refusal to test.
    pub moderation: bool,
    pub yields: Yields,
    /// The quantities the provider reports, kept in the run report for metering.
    pub meters: &'static [&'static str],
}

fn text(s: &str) -> ParamValue {
    ParamValue::Text(s.into())
}

fn bearer(key: &str) -> (&'static str, Option<String>) {
    ("authorization", Some(format!("Bearer {key}")))
}

pub const PROMPT: &str = "a red fox in snow";

/// Every adapter's cases.
pub fn all() -> Vec<Case> {
    use switchyard_mock::keys;
    let t2i = "cloud.text_to_image";
    vec![
        Case {
            node: t2i,
            provider: "openai:gpt-image-1",
            params: vec![("quality", text("low"))],
            input: None,
            create: ("openai.generate", "/v1/images/generations"),
            auth: bearer(keys::OPENAI),
            body: Body::Json(
                json!({ "model": "gpt-image-1", "prompt": PROMPT, "n": 1, "size": "1024x1024", "quality": "low" }),
            ),
            poll: None,
            cancel: None,
            download: false,
            moderation: true,
            yields: Yields::Image(1024, 1024),
            meters: &["input_tokens", "output_tokens"],
        },
        Case {
            node: "cloud.image_to_image",
            provider: "openai:gpt-image-1",
            params: vec![],
            input: Some((64, 48)),
            create: ("openai.edit", "/v1/images/edits"),
            auth: bearer(keys::OPENAI),
            body: Body::Form(&[("model", "gpt-image-1"), ("prompt", PROMPT), ("n", "1"), ("image[]", "*")]),
            poll: None,
            cancel: None,
            download: false,
            moderation: true,
            yields: Yields::Image(64, 48),
            meters: &["input_tokens", "output_tokens"],
        },
        Case {
            node: t2i,
            provider: "bfl:flux-2-pro",
            params: vec![
                ("width", ParamValue::Int(512)),
                ("height", ParamValue::Int(384)),
                ("seed", ParamValue::Int(7)),
            ],
            input: None,
            create: ("bfl.create", "/v1/flux-2-pro"),
            auth: ("x-key", Some(keys::BFL.into())),
            body: Body::Json(
                json!({ "prompt": PROMPT, "width": 512, "height": 384, "output_format": "png", "seed": 7 }),
            ),
            poll: Some("bfl.poll"),
            cancel: None,
            download: true,
            moderation: true,
            yields: Yields::Image(512, 384),
            meters: &["cost_usd_cents"],
        },
        Case {
            node: t2i,
            provider: "stability:core",
            params: vec![
                ("width", ParamValue::Int(1920)),
                ("height", ParamValue::Int(1080)),
                ("negative_prompt", text("blur")),
            ],
            input: None,
            create: ("stability.generate", "/v2beta/stable-image/generate/core"),
            auth: bearer(keys::STABILITY),
            body: Body::Form(&[
                ("output_format", "png"),
                ("prompt", PROMPT),
                ("negative_prompt", "blur"),
                ("aspect_ratio", "16:9"),
            ]),
            poll: None,
            cancel: None,
            download: false,
            moderation: true,
            yields: Yields::Image(1024, 576),
            meters: &[],
        },
        Case {
            node: "cloud.upscale",
            provider: "stability:creative",
            params: vec![("prompt", text(PROMPT))],
            input: Some((64, 48)),
            create: ("stability.upscale", "/v2beta/stable-image/upscale/creative"),
            auth: bearer(keys::STABILITY),
            body: Body::Form(&[("output_format", "png"), ("prompt", PROMPT), ("image", "*")]),
            poll: Some("stability.result"),
            cancel: None,
            download: false,
            moderation: true,
            yields: Yields::Image(256, 192),
            meters: &[],
        },
        Case {
            node: t2i,
            provider: "replicate:black-forest-labs/flux-dev",
            params: vec![("steps", ParamValue::Int(28)), ("seed", ParamValue::Int(3))],
            input: None,
            create: ("replicate.create", "/v1/models/black-forest-labs/flux-dev/predictions"),
            auth: bearer(keys::REPLICATE),
            body: Body::Json(
                json!({ "input": { "prompt": PROMPT, "aspect_ratio": "1:1", "output_format": "png", "num_inference_steps": 28, "seed": 3 } }),
            ),
            poll: Some("replicate.poll"),
            cancel: Some("replicate.cancel"),
            download: true,
            moderation: true,
            yields: Yields::Image(1024, 1024),
            meters: &["predict_time_s"],
        },
        Case {
            node: "cloud.upscale",
            provider: "replicate:nightmareai/real-esrgan",
            params: vec![("scale", ParamValue::Int(2))],
            input: Some((64, 48)),
            create: ("replicate.create", "/v1/models/nightmareai/real-esrgan/predictions"),
            auth: bearer(keys::REPLICATE),
            body: Body::Json(json!({ "input": { "image": "*", "scale": 2 } })),
            poll: None,
            cancel: None,
            download: true,
            moderation: false,
            yields: Yields::Image(128, 96),
            meters: &["predict_time_s"],
        },
        Case {
            node: t2i,
            provider: "fal:fal-ai/flux/dev",
            params: vec![("width", ParamValue::Int(768)), ("height", ParamValue::Int(512))],
            input: None,
            create: ("fal.submit", "/fal-ai/flux/dev"),
            auth: ("authorization", Some(format!("Key {}", keys::FAL))),
            body: Body::Json(
                json!({ "prompt": PROMPT, "image_size": { "width": 768, "height": 512 }, "num_images": 1, "output_format": "png" }),
            ),
            poll: Some("fal.status"),
            cancel: Some("fal.cancel"),
            download: true,
            moderation: true,
            yields: Yields::Image(768, 512),
            meters: &[],
        },
        Case {
            node: "cloud.image_to_video",
            provider: "runway:gen4_turbo",
            params: vec![("prompt", text("the fox turns its head")), ("duration_s", ParamValue::Int(5))],
            input: Some((128, 72)),
            create: ("runway.create", "/v1/image_to_video"),
            auth: bearer(keys::RUNWAY),
            body: Body::Json(
                json!({ "model": "gen4_turbo", "promptImage": "*", "ratio": "1280:720", "duration": 5, "promptText": "the fox turns its head" }),
            ),
            poll: Some("runway.poll"),
            cancel: Some("runway.cancel"),
            download: true,
            moderation: true,
            yields: Yields::Video,
            meters: &["duration_s"],
        },
        Case {
            node: t2i,
            provider: "luma:photon-1",
            params: vec![("width", ParamValue::Int(1024)), ("height", ParamValue::Int(576))],
            input: None,
            create: ("luma.create", "/dream-machine/v1/generations/image"),
            auth: bearer(keys::LUMA),
            body: Body::Json(json!({ "prompt": PROMPT, "model": "photon-1", "aspect_ratio": "16:9" })),
            poll: Some("luma.poll"),
            cancel: Some("luma.cancel"),
            download: true,
            moderation: true,
            yields: Yields::Image(1024, 576),
            meters: &[],
        },
        Case {
            node: "cloud.image_to_video",
            provider: "kling:kling-v1-6",
            params: vec![("prompt", text("snow falls")), ("duration_s", ParamValue::Int(10))],
            input: Some((96, 96)),
            create: ("kling.create", "/v1/videos/image2video"),
            auth: ("authorization", None),
            body: Body::Json(
                json!({ "model_name": "kling-v1-6", "image": "*", "duration": "10", "mode": "std", "external_task_id": "*", "prompt": "snow falls" }),
            ),
            poll: Some("kling.poll"),
            cancel: None,
            download: true,
            moderation: true,
            yields: Yields::Video,
            meters: &["units"],
        },
        Case {
            node: t2i,
            provider: "ideogram:v3",
            params: vec![
                ("width", ParamValue::Int(1600)),
                ("height", ParamValue::Int(1000)),
                ("quality", text("high")),
                ("seed", ParamValue::Int(9)),
            ],
            input: None,
            create: ("ideogram.generate", "/v1/ideogram-v3/generate"),
            auth: ("api-key", Some(keys::IDEOGRAM.into())),
            body: Body::Form(&[
                ("prompt", PROMPT),
                ("aspect_ratio", "16x10"),
                ("rendering_speed", "QUALITY"),
                ("num_images", "1"),
                ("magic_prompt", "OFF"),
                ("seed", "9"),
            ]),
            poll: None,
            cancel: None,
            download: true,
            moderation: true,
            yields: Yields::Image(1024, 640),
            meters: &[],
        },
        Case {
            node: t2i,
            provider: "recraft:recraftv3",
            params: vec![("width", ParamValue::Int(1536)), ("height", ParamValue::Int(1024))],
            input: None,
            create: ("recraft.generate", "/v1/images/generations"),
            auth: bearer(keys::RECRAFT),
            body: Body::Json(
                json!({ "prompt": PROMPT, "model": "recraftv3", "size": "1536x1024", "n": 1, "response_format": "url" }),
            ),
            poll: None,
            cancel: None,
            download: true,
            moderation: true,
            yields: Yields::Image(1536, 1024),
            meters: &["credits"],
        },
        Case {
            node: "cloud.remove_background",
            provider: "recraft:remove-background",
            params: vec![],
            input: Some((80, 60)),
            create: ("recraft.remove_background", "/v1/images/removeBackground"),
            auth: bearer(keys::RECRAFT),
            body: Body::Form(&[("file", "*")]),
            poll: None,
            cancel: None,
            download: true,
            moderation: true,
            yields: Yields::Cutout(80, 60),
            meters: &["credits"],
        },
        Case {
            node: "cloud.text_to_speech",
            provider: "elevenlabs:eleven_multilingual_v2",
            params: vec![("text", text("Hello from Switchyard."))],
            input: None,
            create: ("elevenlabs.tts", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM?output_format=pcm_24000"),
            auth: ("xi-api-key", Some(keys::ELEVENLABS.into())),
            body: Body::Json(json!({ "text": "Hello from Switchyard.", "model_id": "eleven_multilingual_v2" })),
            poll: None,
            cancel: None,
            download: false,
            moderation: false,
            yields: Yields::Speech(24_000),
            meters: &["characters"],
        },
    ]
}

/// Checks `actual` against `expected`, where `"*"` matches any present value.
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(s), a) if s == "*" => !a.is_null(),
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|av| matches(v, av)))
        }
        (e, a) => e == a,
    }
}
