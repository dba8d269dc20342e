//! Whether a local model can run on this machine before a run, and how long it would take:
//! what placement asks of a `local:<model>` candidate.

use switchyard_engine::capability::{Fit, LocalCapability, ModelCost};

use super::OnnxSettings;
use super::manifest;

/// Input size assumed for an image that arrives on a wire (a 1920 x 1080 frame).
pub const ASSUMED_INPUT_MEGAPIXELS: f64 = 2.07;

/// Typical seconds for `model` on an input of `megapixels` here, or why it cannot run here.
pub fn local_fit(settings: &OnnxSettings, model: &str, megapixels: f64) -> Result<f64, String> {
    let path = settings.manifest_path(model);
    let m = manifest::load(&path).map_err(|e| e.to_string())?;
    let here: LocalCapability = crate::probe::probe_light(&settings.runtime);
    let cost =
        ModelCost { memory_mb_per_megapixel: m.memory_mb_per_megapixel, gflops_per_megapixel: m.gflops_per_megapixel };
    let tile_megapixels = f64::from(m.tile) * f64::from(m.tile) / 1_048_576.0;
    match here.fit(&cost, megapixels, if m.tile == 0 { megapixels } else { tile_megapixels }) {
        Fit::Runs { eta_ms, .. } => Ok(eta_ms as f64 / 1000.0),
        Fit::NoRuntime { reason } => Err(format!("the ONNX Runtime is not available here: {reason}")),
        Fit::TooLarge { needed_mb, available_mb } => {
            Err(format!("needs {needed_mb} MB per tile, {available_mb} MB free here"))
        }
    }
}
