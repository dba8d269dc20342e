//! Switchyard's built-in nodes: image ops (load, save, noise, resize, crop, blur, adjust,
//! blend, composite, grid), masks, audio save, value and text sources, ONNX models and
//! partner cloud nodes.
//!
//! ```
//! let registry = switchyard_nodes::builtin_registry();
//! assert!(registry.get("image.blur").is_some());
//! ```
#![deny(missing_docs)]

mod audio;
pub mod cloud;
mod color;
pub mod config;
mod convert;
mod image;
mod kit;
pub mod onnx;
pub mod preview;
pub mod probe;
mod values;

use switchyard_engine::{DuplicateNodeType, Registry};

pub use color::{linear_to_srgb, srgb_to_linear};
pub use convert::{ImageLimits, from_dynamic, row_rgba8, to_rgba8};
pub use image::embedded;

/// Adds every built-in node type to `registry`, with ONNX models found as `settings` say.
/// Cloud providers take their keys from the environment and their default settings.
pub fn register_builtins(registry: &mut Registry, settings: onnx::OnnxSettings) -> Result<(), DuplicateNodeType> {
    register_with(registry, settings, &cloud::CloudSettings::default())
}

/// Adds every built-in node type with these ONNX and cloud settings.
pub fn register_with(
    registry: &mut Registry,
    onnx_settings: onnx::OnnxSettings,
    cloud_settings: &cloud::CloudSettings,
) -> Result<(), DuplicateNodeType> {
    image::register(registry)?;
    audio::register(registry)?;
    values::register(registry)?;
    onnx::register(registry, onnx_settings)?;
    cloud::register(registry, cloud_settings)
}

/// A registry holding exactly the built-in node types, with models from `SWITCHYARD_MODELS`
/// or `./models`.
pub fn builtin_registry() -> Registry {
    registry_with(onnx::OnnxSettings::from_env(), &cloud::CloudSettings::default())
}

/// A registry holding exactly the built-in node types, as the settings file says.
pub fn registry_from(config: &config::Config) -> Registry {
    registry_with(config.onnx_settings(), &config.cloud_settings())
}

/// [`registry_from`], keeping paid results in `kept`.
pub fn registry_keeping(config: &config::Config, kept: cloud::kept::KeptResults) -> Registry {
    registry_with(config.onnx_settings(), &cloud::CloudSettings { kept, ..config.cloud_settings() })
}

/// As [`registry_keeping`], with providers' error replies counted into `errors`.
pub fn registry_counting(
    config: &config::Config,
    kept: cloud::kept::KeptResults,
    errors: std::sync::Arc<cloud::stats::ProviderErrors>,
) -> Registry {
    registry_with(config.onnx_settings(), &cloud::CloudSettings { kept, errors, ..config.cloud_settings() })
}

fn registry_with(settings: onnx::OnnxSettings, cloud_settings: &cloud::CloudSettings) -> Registry {
    let mut registry = Registry::new();
    // An empty registry cannot hold duplicates, and the built-in names are distinct.
    if let Err(e) = register_with(&mut registry, settings, cloud_settings) {
        unreachable!("built-in node types collide: {e}");
    }
    registry
}
