//! Each capability node's ports and params, and how its params become a portable [`Ask`].

use std::sync::Arc;

use switchyard_engine::{
    NodeContext, NodeError, NodeSpec, ParamKind, ParamList, ParamSpec, ParamValue, PathRole, PortType, ResourceClass,
};

use super::ask::{Ask, Capability};

/// An example `provider` value for `capability`.
pub fn example(capability: Capability) -> &'static str {
    match capability {
        Capability::TextToImage => "openai:gpt-image-1",
        Capability::ImageToImage => "bfl:flux-kontext-pro",
        Capability::Upscale => "stability:fast",
        Capability::RemoveBackground => "recraft:remove-background",
        Capability::ImageToVideo => "runway:gen4_turbo",
        Capability::TextToSpeech => "elevenlabs:eleven_multilingual_v2",
    }
}

fn text(multiline: bool, max_len: usize) -> ParamKind {
    ParamKind::Text { multiline, max_len }
}

/// Where the node runs; empty leaves it to the scheduler's placement policy.
fn provider_param(description: &'static str) -> ParamSpec {
    ParamSpec::new(switchyard_engine::PROVIDER_PARAM, text(false, 200), ParamValue::Text("".into()), description)
}

fn negative() -> ParamSpec {
    ParamSpec::new(
        "negative_prompt",
        text(true, 10_000),
        ParamValue::Text("".into()),
        "What to avoid (not every provider takes one)",
    )
}

fn seed() -> ParamSpec {
    ParamSpec::new(
        "seed",
        ParamKind::Int { min: -1, max: 4_294_967_294 },
        ParamValue::Int(-1),
        "Seed; -1 lets the provider choose",
    )
}

fn steps() -> ParamSpec {
    ParamSpec::new(
        "steps",
        ParamKind::Int { min: 0, max: 150 },
        ParamValue::Int(0),
        "Sampling steps; 0 is the provider's default",
    )
}

fn quality() -> ParamSpec {
    ParamSpec::new(
        "quality",
        ParamKind::Choice { options: &["auto", "low", "medium", "high"] },
        ParamValue::Text("auto".into()),
        "Quality tier, where the provider has one",
    )
}

fn side(name: &'static str, default: i64, description: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamKind::Int { min: 64, max: 4096 }, ParamValue::Int(default), description)
}

/// The node spec for `capability`.
pub fn spec(capability: Capability) -> NodeSpec {
    let base = |name, description| NodeSpec::new(name, "cloud", description).resource(ResourceClass::Cloud);
    let prompt = || ParamSpec::required("prompt", text(true, 32_000), "What to make");
    match capability {
        Capability::TextToImage => base("cloud.text_to_image", "Make an image from a prompt on a partner provider (costs credits)")
            .output("image", PortType::Image, "The generated image")
            .param(provider_param("Where it runs (empty: placed by the policy): provider:model, such as openai:gpt-image-1, bfl:flux-2-pro or stability:core"))
            .param(prompt())
            .param(negative())
            .param(side("width", 1024, "Width in pixels"))
            .param(side("height", 1024, "Height in pixels"))
            .param(seed())
            .param(steps())
            .param(quality()),
        Capability::ImageToImage => base("cloud.image_to_image", "Change an image as a prompt says, on a partner provider (costs credits)")
            .input("image", PortType::Image, "The image to change")
            .output("image", PortType::Image, "The changed image")
            .param(provider_param("Where it runs (empty: placed by the policy): provider:model, such as bfl:flux-kontext-pro, openai:gpt-image-1 or stability:sd3.5-large"))
            .param(prompt())
            .param(negative())
            .param(ParamSpec::new(
                "strength",
                ParamKind::Float { min: -1.0, max: 1.0 },
                ParamValue::Float(-1.0),
                "How far from the input, 0 to 1; -1 is the provider's default",
            ))
            .param(seed())
            .param(steps())
            .param(quality()),
        Capability::Upscale => base("cloud.upscale", "Enlarge an image on a partner provider (costs credits)")
            .input("image", PortType::Image, "The image to enlarge")
            .output("image", PortType::Image, "The enlarged image")
            .param(provider_param("Where it runs (empty: placed by the policy): provider:model, such as stability:fast, stability:creative or replicate:nightmareai/real-esrgan"))
            .param(ParamSpec::new("scale", ParamKind::Int { min: 2, max: 8 }, ParamValue::Int(4), "Upscale factor, where the provider lets it be chosen"))
            .param(ParamSpec::new("prompt", text(true, 10_000), ParamValue::Text("".into()), "Guidance for creative upscalers"))
            .param(seed()),
        Capability::RemoveBackground => base("cloud.remove_background", "Cut the subject out of an image on a partner provider (costs credits)")
            .input("image", PortType::Image, "The image")
            .output("image", PortType::Image, "The subject on a transparent background")
            .output("mask", PortType::Mask, "The subject's mask (the result's alpha)")
            .param(provider_param("Where it runs (empty: placed by the policy): provider:model, such as recraft:remove-background")),
        Capability::ImageToVideo => base("cloud.image_to_video", "Animate an image into a video file on a partner provider (costs credits); the video takes the image's aspect ratio")
            .with_side_effects()
            .input("image", PortType::Image, "The first frame")
            .output("path", PortType::Text, "Where the video file was written")
            .param(provider_param("Where it runs (empty: placed by the policy): provider:model, such as runway:gen4_turbo, kling:kling-v1-6 or fal:fal-ai/kling-video/v1.6/standard/image-to-video"))
            .param(ParamSpec::new("prompt", text(true, 2_000), ParamValue::Text("".into()), "What happens in the shot"))
            .param(negative())
            .param(ParamSpec::new("duration_s", ParamKind::Int { min: 1, max: 20 }, ParamValue::Int(5), "Length in seconds"))
            .param(seed())
            .param(ParamSpec::new(
                "path",
                ParamKind::Path { role: PathRole::Output },
                ParamValue::Text("video_{n}.mp4".into()),
                "File name inside --out",
            )),
        Capability::TextToSpeech => base("cloud.text_to_speech", "Speak text on a partner provider (costs credits)")
            .output("audio", PortType::Audio, "The speech")
            .param(provider_param("Where it runs (empty: placed by the policy): provider:model, such as elevenlabs:eleven_multilingual_v2"))
            .param(ParamSpec::required("text", text(true, 10_000), "What to say"))
            .param(ParamSpec::new("voice", text(false, 100), ParamValue::Text("".into()), "The provider's voice id; empty for its default"))
            .param(seed()),
    }
}

/// Which params and inputs a capability's spec has.
#[derive(Debug)]
pub struct Shape {
    params: Vec<&'static str>,
    image_input: bool,
}

impl Shape {
    /// The shape of `spec`.
    pub fn of(spec: &NodeSpec) -> Self {
        Self {
            params: spec.params.iter().map(|p| p.name).collect(),
            image_input: spec.inputs.iter().any(|i| i.name == "image"),
        }
    }
}

/// The node's params as a portable request; image inputs are encoded as PNG off the
/// scheduler's threads.
pub async fn ask(capability: Capability, shape: &Shape, ctx: &NodeContext) -> Result<Ask, NodeError> {
    let mut ask = ask_of_params(capability, shape, ctx.param_list())?;
    if shape.image_input {
        let image = ctx.image("image")?.clone();
        if !shape.params.contains(&"width") {
            (ask.width, ask.height) = (image.width(), image.height());
        }
        let png = tokio::task::spawn_blocking(move || super::output::encode_png(&image))
            .await
            .map_err(|e| NodeError::Internal(format!("encoding the input: {e}")))??;
        ask.image = Some(Arc::from(png));
    }
    Ok(ask)
}

impl Shape {
    /// Whether the node takes an image, which is only known once the run makes it.
    pub fn takes_image(&self) -> bool {
        self.image_input
    }
}

/// The request `params` make, but for an image input.
pub fn ask_of_params(capability: Capability, shape: &Shape, ctx: ParamList<'_>) -> Result<Ask, NodeError> {
    let has = |name: &str| shape.params.contains(&name);
    let prompt = match capability {
        Capability::TextToSpeech => ctx.text("text")?,
        _ if has("prompt") => ctx.text("prompt")?,
        _ => "",
    };
    let (width, height) = if has("width") { (u32_of(ctx, "width")?, u32_of(ctx, "height")?) } else { (0, 0) };
    let mut ask = Ask::new(capability, prompt, width, height);
    let nonempty = |name| -> Result<Option<String>, NodeError> {
        Ok(if has(name) { Some(ctx.text(name)?.trim().to_string()).filter(|t| !t.is_empty()) } else { None })
    };
    ask.negative_prompt = nonempty("negative_prompt")?;
    ask.voice = nonempty("voice")?;
    ask.quality = nonempty("quality")?.filter(|q| q != "auto");
    ask.seed = if has("seed") { u64::try_from(ctx.int("seed")?).ok() } else { None };
    ask.steps = if has("steps") { u32::try_from(ctx.int("steps")?).ok().filter(|s| *s > 0) } else { None };
    ask.strength = if has("strength") { Some(ctx.float("strength")?).filter(|s| *s >= 0.0) } else { None };
    ask.scale = if has("scale") { u32::try_from(ctx.int("scale")?).ok() } else { None };
    ask.duration_s = if has("duration_s") { u32::try_from(ctx.int("duration_s")?).ok() } else { None };
    Ok(ask)
}

fn u32_of(ctx: ParamList<'_>, name: &str) -> Result<u32, NodeError> {
    let v = ctx.int(name)?;
    u32::try_from(v).map_err(|_| NodeError::Invalid(format!("param {name:?} = {v} does not fit a size")))
}
