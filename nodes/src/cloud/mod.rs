//! Partner cloud nodes. A capability node says what to make (`cloud.text_to_image`); its
//! `provider` param (`openai:gpt-image-1`, `bfl:flux-2-pro`) says where. Adapters map the
//! portable params onto each provider's wire format over one client layer ([`client`]).

pub mod ask;
mod bfl;
pub mod client;
pub mod error;
mod node;
mod openai;
pub mod secret;

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_engine::{DuplicateNodeType, Registry};

pub use node::TextToImageNode;

use client::{ClientConfig, ProviderClient};
use secret::ApiKey;

/// The providers this build has adapters for: name, default base URL, key variable,
/// request-id header.
pub const PROVIDERS: &[(&str, &str, &str, &str)] = &[
    ("openai", "https://api.openai.com", "OPENAI_API_KEY", "x-request-id"),
    ("bfl", "https://api.bfl.ai", "BFL_API_KEY", "x-request-id"),
];

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
}

/// The clients, one per known provider, shared by every cloud node of a registry.
pub struct Providers {
    clients: BTreeMap<&'static str, Arc<ProviderClient>>,
    /// Results decoding at once: one per core, so a thousand finishing together neither
    /// spawn a thousand threads nor hold a thousand decode buffers.
    decode_slots: Arc<tokio::sync::Semaphore>,
}

impl Providers {
    /// Builds a client per known provider; keys come from the settings or the environment.
    pub fn new(settings: &CloudSettings) -> Result<Self, String> {
        let mut clients = BTreeMap::new();
        for &(name, default_url, default_env, rid_header) in PROVIDERS {
            let s = settings.providers.get(name).cloned().unwrap_or_default();
            let env = s.api_key_env.clone().unwrap_or_else(|| default_env.to_string());
            let key = s.api_key.clone().or_else(|| std::env::var(&env).ok().filter(|k| !k.is_empty()).map(ApiKey::new));
            let hint = format!("set {env}, or api_key_env under [providers.{name}] in switchyard.toml");
            let url = s.base_url.as_deref().unwrap_or(default_url);
            clients.insert(name, Arc::new(ProviderClient::new(name, url, key, hint, s.client, rid_header)?));
        }
        Ok(Self { clients, decode_slots: decode_slots() })
    }

    /// A permit to decode one result.
    pub async fn decode_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.decode_slots).acquire_owned().await.ok()
    }

    /// A provider's client.
    pub fn get(&self, name: &str) -> Option<&Arc<ProviderClient>> {
        self.clients.get(name)
    }

    /// The provider names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.clients.keys().copied()
    }
}

fn decode_slots() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from)))
}

/// Adds the cloud nodes.
pub fn register(registry: &mut Registry, settings: &CloudSettings) -> Result<(), DuplicateNodeType> {
    let providers = match Providers::new(settings) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::error!(error = %e, "cloud providers unavailable");
            Arc::new(Providers { clients: BTreeMap::new(), decode_slots: decode_slots() })
        }
    };
    registry.register(TextToImageNode::new(providers))
}
