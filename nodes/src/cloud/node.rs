//! The capability nodes (`cloud.text_to_image`, `cloud.upscale`, ...): one type, specialised
//! by [`Capability`]. Each turns its params into a portable [`Ask`], runs it on the adapter
//! its `provider` param names, and turns the result into engine values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_engine::{Node, NodeContext, NodeError, NodeFuture, NodeSpec, ParamProblem, ParamValue, PathRoots};

use super::Providers;
use super::adapters;
use super::ask::Capability;
use super::call::Call;
use super::output;
use super::specs;

/// A cloud node for one capability.
pub struct CloudNode {
    capability: Capability,
    spec: NodeSpec,
    shape: Arc<specs::Shape>,
    providers: Arc<Providers>,
}

impl CloudNode {
    /// The node for `capability` over these provider clients.
    pub fn new(capability: Capability, providers: Arc<Providers>) -> Self {
        let spec = specs::spec(capability);
        Self { capability, shape: Arc::new(specs::Shape::of(&spec)), spec, providers }
    }
}

/// Splits `provider:model` and checks that the provider is known and serves `capability`.
fn placement<'a>(
    providers: &Providers,
    capability: Capability,
    value: &'a str,
) -> Result<(&'a str, &'a str), ParamProblem> {
    let serving = || providers.serving(capability).collect::<Vec<_>>().join(", ");
    let Some((provider, model)) = value.split_once(':').filter(|(p, m)| !p.is_empty() && !m.is_empty()) else {
        return Err(ParamProblem {
            message: format!("{value:?} is not provider:model"),
            help: format!("write provider:model, such as {}", specs::example(capability)),
        });
    };
    if providers.get(provider).is_none() {
        return Err(ParamProblem {
            message: format!("no adapter for provider {provider:?}"),
            help: format!("providers for {}: {}", capability.name(), serving()),
        });
    }
    if !providers.serves(provider, capability) {
        return Err(ParamProblem {
            message: format!("{provider} does not serve {}", capability.name()),
            help: format!("providers that do: {}", serving()),
        });
    }
    Ok((provider, model))
}

impl Node for CloudNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn check_param(&self, name: &str, value: &ParamValue) -> Result<(), ParamProblem> {
        match (name, value) {
            ("provider", ParamValue::Text(v)) => placement(&self.providers, self.capability, v).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// The endpoint, so a result from a proxy or the mock is never served for the real
    /// provider (or the other way round).
    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        _: &PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        let Some((_, ParamValue::Text(value))) = params.iter().find(|(n, _)| *n == "provider") else {
            return Ok(None);
        };
        let provider = value.split(':').next().unwrap_or_default();
        Ok(self.providers.get(provider).map(|c| blake3::hash(c.base_url.as_bytes())))
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let (providers, capability, shape) = (Arc::clone(&self.providers), self.capability, Arc::clone(&self.shape));
        Box::pin(async move {
            let (provider, model) = placement(&providers, capability, ctx.text("provider")?)
                .map_err(|p| NodeError::Invalid(format!("{}; {}", p.message, p.help)))?;
            let client = providers.get(provider).ok_or_else(|| NodeError::Internal("provider vanished".into()))?;
            let ask = specs::ask(capability, &shape, &ctx).await?;
            let progress = |p: f64| ctx.progress((p.clamp(0.0, 1.0) * 100.0) as u64, 100);
            let call = Call {
                client,
                cancel: ctx.cancellation(),
                deadline: Instant::now() + Duration::from_millis(client.config.overall_timeout_ms),
                progress: &progress,
            };
            let generated = adapters::generate(provider, &call, model, &ask).await?;
            tracing::info!(provider, model, usage = ?generated.usage, "cloud call metered");
            let metering = generated.usage.to_json(provider, model);
            let _slot = providers.decode_slot().await;
            Ok(output::outputs(capability, &ctx, generated).await?.with_metering(metering))
        })
    }
}
