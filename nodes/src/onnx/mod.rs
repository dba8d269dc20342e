//! Local inference through ONNX Runtime: the runtime loader, model manifests, a session cache,
//! and the `onnx.image` and `onnx.mask` nodes. Free to run: no credits are spent here.

mod fit;
pub mod manifest;
mod node;
mod output;
pub mod providers;
pub mod runtime;
mod sessions;
pub mod tensor;
pub mod tiles;

pub use fit::{ASSUMED_INPUT_MEGAPIXELS, local_fit};
pub use node::{OnnxImageNode, OnnxSettings, OnnxShared};

use switchyard_engine::{DuplicateNodeType, Registry};

/// Adds `onnx.image` and `onnx.mask`, sharing one session cache.
pub fn register(registry: &mut Registry, settings: OnnxSettings) -> Result<(), DuplicateNodeType> {
    let shared = OnnxShared::new(settings);
    registry.register(OnnxImageNode::image(std::sync::Arc::clone(&shared)))?;
    registry.register(OnnxImageNode::mask(shared))
}
