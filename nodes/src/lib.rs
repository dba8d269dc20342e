//! Switchyard's built-in nodes: image ops (load, save, noise, resize, crop, blur, adjust,
//! blend, composite, grid), masks, and value and text sources.
//!
//! ```
//! let registry = switchyard_nodes::builtin_registry();
//! assert!(registry.get("image.blur").is_some());
//! ```
#![deny(missing_docs)]

mod color;
pub mod config;
mod convert;
mod image;
mod kit;
pub mod onnx;
pub mod probe;
mod values;

use switchyard_engine::{DuplicateNodeType, Registry};

pub use color::{linear_to_srgb, srgb_to_linear};
pub use convert::{ImageLimits, from_dynamic, to_rgba8};

/// Adds every built-in node type to `registry`, with ONNX models found as `settings` say.
pub fn register_builtins(registry: &mut Registry, settings: onnx::OnnxSettings) -> Result<(), DuplicateNodeType> {
    image::register(registry)?;
    values::register(registry)?;
    onnx::register(registry, settings)
}

/// A registry holding exactly the built-in node types, with models from `SWITCHYARD_MODELS`
/// or `./models`.
pub fn builtin_registry() -> Registry {
    registry_with(onnx::OnnxSettings::from_env())
}

/// A registry holding exactly the built-in node types, with these ONNX settings.
pub fn registry_with(settings: onnx::OnnxSettings) -> Registry {
    let mut registry = Registry::new();
    // An empty registry cannot hold duplicates, and the built-in names are distinct.
    if let Err(e) = register_builtins(&mut registry, settings) {
        unreachable!("built-in node types collide: {e}");
    }
    registry
}
