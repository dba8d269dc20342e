//! `cloud.text_to_image`: a prompt to an image on a partner provider, paid in credits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_engine::{
    Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs, ParamKind, ParamProblem, ParamSpec, ParamValue,
    PortType, ResourceClass, Value,
};

use super::Providers;
use super::ask::ImageAsk;
use super::{bfl, openai};
use crate::convert::{ImageLimits, from_dynamic};

/// The node.
pub struct TextToImageNode {
    spec: NodeSpec,
    providers: Arc<Providers>,
}

impl TextToImageNode {
    /// The node over these provider clients.
    pub fn new(providers: Arc<Providers>) -> Self {
        let side = ParamKind::Int { min: 64, max: 4096 };
        let spec = NodeSpec::new(
            "cloud.text_to_image",
            "cloud",
            "Make an image from a prompt on a partner provider (costs credits)",
        )
        .resource(ResourceClass::Cloud)
        .output("image", PortType::Image, "The generated image")
        .param(ParamSpec::required(
            "provider",
            ParamKind::Text { multiline: false, max_len: 200 },
            "Where it runs: provider:model, such as openai:gpt-image-1 or bfl:flux-2-pro",
        ))
        .param(ParamSpec::required("prompt", ParamKind::Text { multiline: true, max_len: 32_000 }, "What to make"))
        .param(ParamSpec::new(
            "negative_prompt",
            ParamKind::Text { multiline: true, max_len: 10_000 },
            ParamValue::Text("".into()),
            "What to avoid (not every provider takes one)",
        ))
        .param(ParamSpec::new("width", side.clone(), ParamValue::Int(1024), "Width in pixels"))
        .param(ParamSpec::new("height", side, ParamValue::Int(1024), "Height in pixels"))
        .param(ParamSpec::new(
            "seed",
            ParamKind::Int { min: -1, max: 4_294_967_294 },
            ParamValue::Int(-1),
            "Seed; -1 lets the provider choose",
        ))
        .param(ParamSpec::new(
            "quality",
            ParamKind::Choice { options: &["auto", "low", "medium", "high"] },
            ParamValue::Text("auto".into()),
            "Quality tier, where the provider has one",
        ));
        Self { spec, providers }
    }
}

/// Splits `provider:model` and checks that the provider is known.
fn placement<'a>(providers: &Providers, value: &'a str) -> Result<(&'a str, &'a str), ParamProblem> {
    let known = || providers.names().collect::<Vec<_>>().join(", ");
    let Some((provider, model)) = value.split_once(':').filter(|(p, m)| !p.is_empty() && !m.is_empty()) else {
        return Err(ParamProblem {
            message: format!("{value:?} is not provider:model"),
            help: format!("for example openai:gpt-image-1; providers: {}", known()),
        });
    };
    if providers.get(provider).is_none() {
        return Err(ParamProblem {
            message: format!("no adapter for provider {provider:?}"),
            help: format!("providers: {}", known()),
        });
    }
    Ok((provider, model))
}

impl Node for TextToImageNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn check_param(&self, name: &str, value: &ParamValue) -> Result<(), ParamProblem> {
        match (name, value) {
            ("provider", ParamValue::Text(v)) => placement(&self.providers, v).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// The endpoint, so a result from a proxy or the mock is never served for the real
    /// provider (or the other way round).
    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        _: &switchyard_engine::PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        let Some((_, ParamValue::Text(value))) = params.iter().find(|(n, _)| *n == "provider") else {
            return Ok(None);
        };
        let provider = value.split(':').next().unwrap_or_default();
        Ok(self.providers.get(provider).map(|c| blake3::hash(c.base_url.as_bytes())))
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let providers = Arc::clone(&self.providers);
        Box::pin(async move {
            let (provider, model) = placement(&providers, ctx.text("provider")?)
                .map_err(|p| NodeError::Invalid(format!("{}; {}", p.message, p.help)))?;
            let client = providers.get(provider).ok_or_else(|| NodeError::Internal("provider vanished".into()))?;
            let ask = ask(&ctx)?;
            let cancel = ctx.cancellation().clone();
            let deadline = Instant::now() + Duration::from_millis(client.config.overall_timeout_ms);
            let progress = |p: f64| ctx.progress((p * 100.0) as u64, 100);
            let generated = match provider {
                "openai" => openai::text_to_image(client, model, &ask, &cancel, deadline).await,
                _ => bfl::text_to_image(client, model, &ask, &cancel, deadline, &progress).await,
            }?;
            tracing::info!(provider, model, usage = ?generated.usage, "cloud call metered");
            let bytes = generated.bytes;
            let _slot = providers.decode_slot().await;
            let image = tokio::task::spawn_blocking(move || decode(&bytes))
                .await
                .map_err(|e| NodeError::Internal(format!("decoding task: {e}")))??;
            Ok(Outputs::new().with("image", Value::Image(image)))
        })
    }
}

fn ask(ctx: &NodeContext) -> Result<ImageAsk, NodeError> {
    let text = |name| ctx.text(name).map(str::to_string);
    let negative = text("negative_prompt")?;
    let quality = text("quality")?;
    Ok(ImageAsk {
        prompt: text("prompt")?,
        negative_prompt: (!negative.trim().is_empty()).then_some(negative),
        width: u32::try_from(ctx.int("width")?).unwrap_or(1024),
        height: u32::try_from(ctx.int("height")?).unwrap_or(1024),
        seed: u64::try_from(ctx.int("seed")?).ok(),
        quality: (quality != "auto").then_some(quality),
    })
}

fn decode(bytes: &[u8]) -> Result<switchyard_engine::Image, NodeError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| NodeError::Failed(format!("the provider's image cannot be read: {e}")))?;
    reader.limits(ImageLimits::default().decoder_limits());
    let img = reader.decode().map_err(|e| NodeError::Failed(format!("the provider's image cannot be decoded: {e}")))?;
    from_dynamic(img)
}
