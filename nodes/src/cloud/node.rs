//! The capability nodes (`cloud.text_to_image`, `cloud.upscale`, ...): one type, specialised
//! by [`Capability`]. Each turns its params into a portable [`Ask`], runs it on the adapter
//! its `provider` param names, and turns the result into engine values.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use switchyard_engine::{
    Node, NodeContext, NodeError, NodeFuture, NodeSpec, PROVIDER_PARAM, ParamProblem, ParamValue, PathRoots,
};

use super::Providers;
use super::adapters;
use super::ask::{Ask, Capability};
use super::call::Call;
use super::error::CloudError;
use super::kept::{Kept, KeptKey};
use super::output;
use super::specs;

/// A cloud node for one capability.
pub struct CloudNode {
    capability: Capability,
    spec: NodeSpec,
    shape: Arc<specs::Shape>,
    providers: Arc<Providers>,
    /// Runs `local:<model>` placements (the `onnx.image` node).
    local: Option<Arc<dyn Node>>,
}

impl CloudNode {
    /// The node for `capability` over these provider clients, and the local model runner.
    pub fn new(capability: Capability, providers: Arc<Providers>, local: Option<Arc<dyn Node>>) -> Self {
        let spec = specs::spec(capability);
        Self { capability, shape: Arc::new(specs::Shape::of(&spec)), spec, providers, local }
    }

    /// The local runner and model name, for a `local:<model>` placement.
    fn local_model<'a>(&self, value: &'a str) -> Option<(&Arc<dyn Node>, &'a str)> {
        let model = value.strip_prefix("local:")?;
        let local = self.local.as_ref().filter(|_| self.capability == Capability::Upscale)?;
        Some((local, model))
    }
}

/// The params the local runner takes.
fn local_params(model: &str) -> [(&'static str, ParamValue); 2] {
    [("model", ParamValue::Text(model.into())), ("tile", ParamValue::Int(0))]
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

/// The engine error for a failed call, saying whether it could have been charged. Only a
/// call the provider certainly did not take is a refusal (another provider may try it) or a
/// clean cancel; once a create or read succeeded, any failure is an unknown outcome, so its
/// hold waits for reconciliation instead of being voided.
fn settled_error(e: CloudError, accepted: bool) -> NodeError {
    match e {
        CloudError::OutcomeUnknown { .. } => NodeError::OutcomeUnknown(e.to_string()),
        CloudError::Unsupported { .. } | CloudError::NotSent { .. } => e.into(),
        CloudError::Cancelled if !accepted => NodeError::Cancelled,
        e if !accepted => NodeError::Refused(e.to_string()),
        CloudError::Cancelled => NodeError::OutcomeUnknown(
            "cancelled after the provider took the work (its task was asked to stop); whether it charged is for reconciliation".into(),
        ),
        e => NodeError::OutcomeUnknown(format!(
            "{e}; the provider had taken the work, so whether it charged is for reconciliation"
        )),
    }
}

/// A paid result: kept by content, or fresh from the provider (and kept at once).
async fn paid_result(
    providers: &Providers,
    call: &Call<'_>,
    (provider, model): (&str, &str),
    ask: &Ask,
) -> Result<Kept, NodeError> {
    let key = KeptKey::of(&call.client.base_url, provider, model, ask);
    if let Some(mut kept) = providers.kept.get(key) {
        tracing::info!(provider, model, "a paid result was kept for this request; not calling the provider again");
        kept.record.reused = true;
        return Ok(kept);
    }
    let generated = match adapters::generate(provider, call, model, ask).await {
        Ok(g) => g,
        Err(e) => return Err(settled_error(e, call.was_accepted())),
    };
    tracing::info!(provider, model, usage = ?generated.usage, "cloud call metered");
    let kept = Kept {
        record: generated.usage.to_record(provider, model),
        bytes: generated.bytes,
        media_type: generated.media_type,
    };
    providers.kept.put(key, &kept);
    Ok(kept)
}

impl Node for CloudNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn check_param(&self, name: &str, value: &ParamValue) -> Result<(), ParamProblem> {
        match (name, value) {
            (PROVIDER_PARAM, ParamValue::Text(v)) if v.is_empty() => Ok(()),
            (PROVIDER_PARAM, ParamValue::Text(v)) if v.starts_with("local:") => match self.local_model(v) {
                Some((local, model)) => local.check_param("model", &ParamValue::Text(model.into())),
                None => Err(ParamProblem {
                    message: format!("{} has no local model runner", self.capability.name()),
                    help: "local models serve cloud.upscale; pick a provider:model".into(),
                }),
            },
            (PROVIDER_PARAM, ParamValue::Text(v)) => placement(&self.providers, self.capability, v).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// The endpoint, so a result from a proxy or the mock is never served for the real
    /// provider (or the other way round).
    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        paths: &PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        let Some((_, ParamValue::Text(value))) = params.iter().find(|(n, _)| *n == PROVIDER_PARAM) else {
            return Ok(None);
        };
        if let Some((local, model)) = self.local_model(value) {
            return local.fingerprint(&local_params(model), paths);
        }
        let provider = value.split(':').next().unwrap_or_default();
        Ok(self.providers.get(provider).map(|c| blake3::hash(c.base_url.as_bytes())))
    }

    /// A request whose params alone make it (no image input) was paid for before when its
    /// result is kept under the same key a run would look up.
    fn kept(&self, params: &[(&'static str, ParamValue)]) -> Option<bool> {
        if self.shape.takes_image() {
            return None;
        }
        let list = switchyard_engine::ParamList(params);
        let chosen = list.text(PROVIDER_PARAM).ok()?;
        let (provider, model) = placement(&self.providers, self.capability, chosen).ok()?;
        let client = self.providers.get(provider)?;
        let ask = specs::ask_of_params(self.capability, &self.shape, list).ok()?;
        Some(self.providers.kept.contains(KeptKey::of(&client.base_url, provider, model, &ask)))
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        if let Ok(Some((local, model))) = ctx.text(PROVIDER_PARAM).map(|v| self.local_model(v)) {
            let [model, tile] = local_params(model);
            return local.run(ctx.with_param(model.0, model.1).with_param(tile.0, tile.1));
        }
        let (providers, capability, shape) = (Arc::clone(&self.providers), self.capability, Arc::clone(&self.shape));
        Box::pin(async move {
            let chosen = ctx.text(PROVIDER_PARAM)?;
            if chosen.is_empty() {
                return Err(NodeError::Invalid(format!(
                    "no provider: {} is placed by the scheduler (switchyard run --policy), or set its provider param",
                    capability.name()
                )));
            }
            let (provider, model) = placement(&providers, capability, chosen)
                .map_err(|p| NodeError::Invalid(format!("{}; {}", p.message, p.help)))?;
            let client = providers.get(provider).ok_or_else(|| NodeError::Internal("provider vanished".into()))?;
            let ask = specs::ask(capability, &shape, &ctx).await?;
            let progress = |p: f64| ctx.progress((p.clamp(0.0, 1.0) * 100.0) as u64, 100);
            let call = Call {
                client,
                cancel: ctx.cancellation(),
                deadline: Instant::now() + Duration::from_millis(client.config.overall_timeout_ms),
                progress: &progress,
                accepted: AtomicBool::new(false),
                journal: ctx.journal(),
            };
            let kept = paid_result(&providers, &call, (provider, model), &ask).await?;
            let metering = kept.record.to_metering();
            let _slot = providers.decode_slot().await;
            match output::outputs(capability, &ctx, kept.bytes, kept.media_type).await {
                Ok(out) => Ok(out.with_metering(metering)),
                Err(NodeError::Cancelled) => Err(NodeError::Cancelled),
                Err(e) => Err(NodeError::AfterRemoteWork {
                    message: format!(
                        "{e} (the provider's result is kept: a re-run after the fix reuses it at no cost)"
                    ),
                    metering: Box::new(metering),
                }),
            }
        })
    }
}
