//! Partner cloud nodes. A capability node says what to make (`cloud.text_to_image`); its
//! `provider` param (`openai:gpt-image-1`, `bfl:flux-2-pro`) says where. Adapters map the
//! portable params onto each provider's wire format over one client layer ([`client`]).

mod adapters;
pub mod ask;
mod bfl;
pub mod call;
pub mod client;
mod elevenlabs;
pub mod error;
mod fal;
pub mod guard;
mod ideogram;
mod jwt;
pub mod kept;
mod kling;
mod luma;
mod node;
mod openai;
pub mod output;
mod recraft;
mod replicate;
mod runway;
pub mod secret;
mod specs;
mod stability;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_engine::{DuplicateNodeType, Registry};

pub use adapters::{PROVIDERS, ProviderInfo};
pub use node::CloudNode;

use ask::Capability;
use client::{ClientConfig, ProviderClient};
use secret::ApiKey;

/// One provider's settings, from `[providers.NAME]` in the settings file.
#[derive(Clone, Debug, Default)]
pub struct ProviderSettings {
    /// Base URL (a proxy, a regional endpoint, or the mock).
    pub base_url: Option<String>,
    /// The key itself (prefer `api_key_env`).
    pub api_key: Option<ApiKey>,
    /// The variable holding the key.
    pub api_key_env: Option<String>,
    /// Limits and retries.
    pub client: ClientConfig,
}

/// Every provider's settings.
#[derive(Clone, Debug, Default)]
pub struct CloudSettings {
    /// By provider name.
    pub providers: BTreeMap<String, ProviderSettings>,
    /// Where paid results are kept by content.
    pub kept: kept::KeptResults,
    /// Where the clients count providers' error replies.
    pub errors: Arc<stats::ProviderErrors>,
}

/// The clients, one per known provider, shared by every cloud node of a registry.
pub struct Providers {
    clients: BTreeMap<&'static str, (Arc<ProviderClient>, &'static ProviderInfo)>,
    /// Paid results, kept so an unchanged request never pays twice.
    pub kept: kept::KeptResults,
    /// Results decoding at once: one per core, so a thousand finishing together neither
    /// spawn a thousand threads nor hold a thousand decode buffers.
    decode_slots: Arc<tokio::sync::Semaphore>,
}

/// A provider's key, from the settings or its variable, and the hint to give when it is not set.
fn provider_key(settings: &CloudSettings, info: &ProviderInfo) -> (Option<ApiKey>, String) {
    let s = settings.providers.get(info.name);
    let env = s.and_then(|s| s.api_key_env.clone()).unwrap_or_else(|| info.key_env.to_string());
    let key = s
        .and_then(|s| s.api_key.clone())
        .or_else(|| std::env::var(&env).ok().filter(|k| !k.is_empty()).map(ApiKey::new));
    (key, format!("set {env}, or api_key_env under [providers.{}] in switchyard.toml", info.name))
}

/// `None` when `provider` has a key (or is not a provider this build knows); else how to set one.
pub fn key_missing(settings: &CloudSettings, provider: &str) -> Option<String> {
    let info = PROVIDERS.iter().find(|i| i.name == provider)?;
    match provider_key(settings, info) {
        (Some(_), _) => None,
        (None, hint) => Some(hint),
    }
}

impl Providers {
    /// Builds a client per known provider; keys come from the settings or the environment.
    pub fn new(settings: &CloudSettings) -> Result<Self, String> {
        let mut clients = BTreeMap::new();
        for info in PROVIDERS {
            let s = settings.providers.get(info.name).cloned().unwrap_or_default();
            let (key, hint) = provider_key(settings, info);
            let url = s.base_url.as_deref().unwrap_or(info.base_url);
            let mut client =
                ProviderClient::new(info.name, url, key, hint, s.client, info.request_id_header, info.auth)?;
            client.errors = Arc::clone(&settings.errors);
            clients.insert(info.name, (Arc::new(client), info));
        }
        Ok(Self { clients, kept: settings.kept.clone(), decode_slots: decode_slots() })
    }

    /// A permit to decode one result.
    pub async fn decode_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.decode_slots).acquire_owned().await.ok()
    }

    /// A provider's client.
    pub fn get(&self, name: &str) -> Option<&Arc<ProviderClient>> {
        self.clients.get(name).map(|(c, _)| c)
    }

    /// The providers that serve `capability`.
    pub fn serving(&self, capability: Capability) -> impl Iterator<Item = &'static str> + '_ {
        self.clients.values().filter(move |(_, i)| i.serves.contains(&capability)).map(|(_, i)| i.name)
    }

    /// Whether `provider` serves `capability`.
    pub fn serves(&self, provider: &str, capability: Capability) -> bool {
        self.clients.get(provider).is_some_and(|(_, i)| i.serves.contains(&capability))
    }
}

fn decode_slots() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from)))
}

/// Adds the capability nodes, one per capability. Placed on `local:<model>`, they run the
/// registry's `onnx.image` node on that model (registered before them).
pub fn register(registry: &mut Registry, settings: &CloudSettings) -> Result<(), DuplicateNodeType> {
    let local = registry.get("onnx.image").cloned();
    let providers = match Providers::new(settings) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::error!(error = %e, "cloud providers unavailable");
            Arc::new(Providers { clients: BTreeMap::new(), kept: settings.kept.clone(), decode_slots: decode_slots() })
        }
    };
    for capability in Capability::ALL {
        registry.register(CloudNode::new(capability, Arc::clone(&providers), local.clone()))?;
    }
    Ok(())
}
