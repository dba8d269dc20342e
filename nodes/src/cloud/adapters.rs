//! The providers this build has adapters for, and the dispatch from a provider name to its
//! adapter.

use super::ask::Capability::{self, *};
use super::ask::{Ask, Generated};
use super::call::Call;
use super::client::Auth;
use super::error::CloudError;
use super::{bfl, openai};

/// A provider's fixed facts.
#[derive(Debug)]
pub struct ProviderInfo {
    /// The name used in `provider:model` and `[providers.NAME]`.
    pub name: &'static str,
    /// The real service's base URL.
    pub base_url: &'static str,
    /// The variable its key is read from by default.
    pub key_env: &'static str,
    /// The header carrying its request id.
    pub request_id_header: &'static str,
    /// How the key is sent.
    pub auth: Auth,
    /// What it can make.
    pub serves: &'static [Capability],
    /// A model to suggest for each capability it serves, in the same order.
    pub example_models: &'static [&'static str],
}

/// Every provider with an adapter.
pub const PROVIDERS: &[ProviderInfo] = &[
    ProviderInfo {
        name: "openai",
        base_url: "https://api.openai.com",
        key_env: "OPENAI_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Bearer,
        serves: &[TextToImage, ImageToImage],
        example_models: &["gpt-image-1", "gpt-image-1"],
    },
    ProviderInfo {
        name: "bfl",
        base_url: "https://api.bfl.ai",
        key_env: "BFL_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Header("x-key"),
        serves: &[TextToImage, ImageToImage],
        example_models: &["flux-2-pro", "flux-kontext-pro"],
    },
];

/// Runs `ask` on `provider`'s adapter.
pub async fn generate(provider: &str, call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    match provider {
        "openai" => openai::generate(call, model, ask).await,
        "bfl" => bfl::generate(call, model, ask).await,
        _ => Err(call.unsupported("provider", format!("no adapter is named {provider:?}"))),
    }
}
