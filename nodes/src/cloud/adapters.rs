//! The providers this build has adapters for, and the dispatch from a provider name to its
//! adapter.

use super::ask::Capability::{self, *};
use super::ask::{Ask, Generated};
use super::call::Call;
use super::client::Auth;
use super::error::CloudError;
use super::{bfl, elevenlabs, fal, ideogram, kling, luma, openai, recraft, replicate, runway, stability};

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
    },
    ProviderInfo {
        name: "stability",
        base_url: "https://api.stability.ai",
        key_env: "STABILITY_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Bearer,
        serves: &[TextToImage, ImageToImage, Upscale],
    },
    ProviderInfo {
        name: "bfl",
        base_url: "https://api.bfl.ai",
        key_env: "BFL_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Header("x-key"),
        serves: &[TextToImage, ImageToImage],
    },
    ProviderInfo {
        name: "replicate",
        base_url: "https://api.replicate.com",
        key_env: "REPLICATE_API_TOKEN",
        request_id_header: "x-request-id",
        auth: Auth::Bearer,
        serves: &[TextToImage, Upscale],
    },
    ProviderInfo {
        name: "fal",
        base_url: "https://queue.fal.run",
        key_env: "FAL_KEY",
        request_id_header: "x-fal-request-id",
        auth: Auth::Prefixed("Key"),
        serves: &[TextToImage, Upscale, ImageToVideo],
    },
    ProviderInfo {
        name: "runway",
        base_url: "https://api.dev.runwayml.com",
        key_env: "RUNWAYML_API_SECRET",
        request_id_header: "x-request-id",
        auth: Auth::Bearer,
        serves: &[ImageToVideo],
    },
    ProviderInfo {
        name: "luma",
        base_url: "https://api.lumalabs.ai",
        key_env: "LUMAAI_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Bearer,
        serves: &[TextToImage],
    },
    ProviderInfo {
        name: "kling",
        base_url: "https://api.klingai.com",
        key_env: "KLING_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Jwt,
        serves: &[ImageToVideo],
    },
    ProviderInfo {
        name: "ideogram",
        base_url: "https://api.ideogram.ai",
        key_env: "IDEOGRAM_API_KEY",
        request_id_header: "x-request-id",
        auth: Auth::Header("Api-Key"),
        serves: &[TextToImage],
    },
    ProviderInfo {
        name: "recraft",
        base_url: "https://external.api.recraft.ai",
        key_env: "RECRAFT_API_TOKEN",
        request_id_header: "x-request-id",
        auth: Auth::Bearer,
        serves: &[TextToImage, RemoveBackground],
    },
    ProviderInfo {
        name: "elevenlabs",
        base_url: "https://api.elevenlabs.io",
        key_env: "ELEVENLABS_API_KEY",
        request_id_header: "request-id",
        auth: Auth::Header("xi-api-key"),
        serves: &[TextToSpeech],
    },
];

/// Runs `ask` on `provider`'s adapter.
pub async fn generate(provider: &str, call: &Call<'_>, model: &str, ask: &Ask) -> Result<Generated, CloudError> {
    match provider {
        "openai" => openai::generate(call, model, ask).await,
        "stability" => stability::generate(call, model, ask).await,
        "bfl" => bfl::generate(call, model, ask).await,
        "replicate" => replicate::generate(call, model, ask).await,
        "fal" => fal::generate(call, model, ask).await,
        "runway" => runway::generate(call, model, ask).await,
        "luma" => luma::generate(call, model, ask).await,
        "kling" => kling::generate(call, model, ask).await,
        "ideogram" => ideogram::generate(call, model, ask).await,
        "recraft" => recraft::generate(call, model, ask).await,
        "elevenlabs" => elevenlabs::generate(call, model, ask).await,
        _ => Err(call.unsupported("provider", format!("no adapter is named {provider:?}"))),
    }
}
