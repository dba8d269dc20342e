//! What this machine can run locally, and what a model would cost here. Filled in by a probe
//! (`switchyard doctor`); read by the scheduler to decide what runs here for free.

use serde::Serialize;

/// The kind of a graphics adapter, as the driver reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    /// A discrete GPU.
    DiscreteGpu,
    /// A GPU sharing memory with the CPU.
    IntegratedGpu,
    /// A virtualised GPU.
    VirtualGpu,
    /// A software rasteriser on the CPU (lavapipe, llvmpipe, WARP): not a GPU.
    Cpu,
    /// Unknown.
    Other,
}

/// One graphics adapter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Adapter {
    /// Device name.
    pub name: String,
    /// PCI vendor id.
    pub vendor: u32,
    /// Graphics API it was found through (Vulkan, GL, Metal, DX12).
    pub backend: String,
    /// Its kind.
    pub device_type: DeviceType,
    /// Dedicated memory, where known.
    pub memory_bytes: Option<u64>,
}

/// The local ONNX Runtime, if one loaded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnnxRuntimeInfo {
    /// Its version.
    pub version: String,
    /// The library file.
    pub library: String,
    /// Execution providers it reports available, best first.
    pub providers: Vec<String>,
    /// The provider sessions are created with.
    pub chosen_provider: String,
}

/// What this machine offers for local work.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalCapability {
    /// CPU model name.
    pub cpu_model: String,
    /// Physical cores.
    pub cpu_cores: usize,
    /// Logical processors.
    pub cpu_threads: usize,
    /// Memory in all.
    pub memory_total_bytes: u64,
    /// Memory free for new work.
    pub memory_available_bytes: u64,
    /// Every adapter found, software ones included.
    pub adapters: Vec<Adapter>,
    /// The ONNX Runtime, when it loaded.
    pub onnx: Option<OnnxRuntimeInfo>,
    /// Why the ONNX Runtime did not load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onnx_error: Option<String>,
    /// Free space where the cache lives.
    pub cache_free_bytes: Option<u64>,
}

/// What running a model costs, per megapixel of input (from its manifest).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelCost {
    /// Working memory in MiB per megapixel.
    pub memory_mb_per_megapixel: f64,
    /// Work in GFLOP per megapixel.
    pub gflops_per_megapixel: f64,
}

/// Whether a model run fits here, and what to expect.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "fit", rename_all = "snake_case")]
pub enum Fit {
    /// It runs here.
    Runs {
        /// Expected wall time.
        eta_ms: u64,
        /// Expected peak working memory.
        memory_mb: u64,
        /// The execution provider it would use.
        provider: String,
    },
    /// No ONNX Runtime is loaded.
    NoRuntime {
        /// Why.
        reason: String,
    },
    /// Even one tile needs more memory than is free.
    TooLarge {
        /// Memory one tile needs.
        needed_mb: u64,
        /// Memory free.
        available_mb: u64,
    },
}

/// Assumed sustained throughput of one CPU core on inference, in GFLOP/s. A conservative
/// figure for vectorised f32 convolutions; calibrate per machine when the scheduler learns.
const CPU_CORE_GFLOPS: f64 = 8.0;
/// Assumed throughput of a CUDA-class GPU, in GFLOP/s.
const GPU_GFLOPS: f64 = 5_000.0;
/// Fixed cost per tile (copies, launch), in milliseconds.
const TILE_OVERHEAD_MS: f64 = 2.0;

impl LocalCapability {
    /// Whether a real GPU is present; software adapters (lavapipe, llvmpipe) do not count.
    pub fn has_gpu(&self) -> bool {
        self.adapters.iter().any(|a| matches!(a.device_type, DeviceType::DiscreteGpu | DeviceType::IntegratedGpu))
    }

    /// Whether a model of this cost can run here on an image of `megapixels`, processed in
    /// tiles of at most `tile_megapixels`, and how long and how much memory to expect.
    pub fn fit(&self, cost: &ModelCost, megapixels: f64, tile_megapixels: f64) -> Fit {
        let Some(onnx) = &self.onnx else {
            return Fit::NoRuntime { reason: self.onnx_error.clone().unwrap_or_else(|| "not loaded".into()) };
        };
        let per_tile = tile_megapixels.min(megapixels).max(0.0);
        let needed_mb = (cost.memory_mb_per_megapixel * per_tile).ceil() as u64;
        let available_mb = self.memory_available_bytes / (1 << 20);
        if needed_mb > available_mb {
            return Fit::TooLarge { needed_mb, available_mb };
        }
        let on_gpu = onnx.chosen_provider != "CPUExecutionProvider";
        let gflops_per_s = if on_gpu { GPU_GFLOPS } else { CPU_CORE_GFLOPS * self.cpu_threads.max(1) as f64 };
        let tiles = if per_tile > 0.0 { (megapixels / per_tile).ceil() } else { 0.0 };
        let eta_ms = cost.gflops_per_megapixel * megapixels / gflops_per_s * 1000.0 + tiles * TILE_OVERHEAD_MS;
        Fit::Runs { eta_ms: eta_ms.ceil() as u64, memory_mb: needed_mb, provider: onnx.chosen_provider.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(adapters: Vec<Adapter>, onnx: bool) -> LocalCapability {
        LocalCapability {
            cpu_model: "test".into(),
            cpu_cores: 2,
            cpu_threads: 2,
            memory_total_bytes: 8 << 30,
            memory_available_bytes: 4 << 30,
            adapters,
            onnx: onnx.then(|| OnnxRuntimeInfo {
                version: "1.31.1".into(),
                library: "x".into(),
                providers: vec!["CPUExecutionProvider".into()],
                chosen_provider: "CPUExecutionProvider".into(),
            }),
            onnx_error: (!onnx).then(|| "missing".into()),
            cache_free_bytes: None,
        }
    }

    #[test]
    fn software_adapters_are_not_gpus() {
        let lavapipe = Adapter {
            name: "llvmpipe".into(),
            vendor: 0x10005,
            backend: "Vulkan".into(),
            device_type: DeviceType::Cpu,
            memory_bytes: None,
        };
        assert!(!machine(vec![lavapipe.clone()], true).has_gpu());
        let gpu = Adapter { device_type: DeviceType::DiscreteGpu, ..lavapipe };
        assert!(machine(vec![gpu], true).has_gpu());
    }

    #[test]
    fn tiles_bound_memory_and_time_scales_with_work() {
        let cost = ModelCost { memory_mb_per_megapixel: 100.0, gflops_per_megapixel: 16.0 };
        let m = machine(vec![], true);
        // 8 megapixels in 1-megapixel tiles: 100 MB at a time, 128 GFLOP at 16 GFLOP/s, 8 tiles.
        assert_eq!(
            m.fit(&cost, 8.0, 1.0),
            Fit::Runs { eta_ms: 8_016, memory_mb: 100, provider: "CPUExecutionProvider".into() }
        );
        let huge = ModelCost { memory_mb_per_megapixel: 10_000.0, ..cost };
        assert_eq!(m.fit(&huge, 8.0, 1.0), Fit::TooLarge { needed_mb: 10_000, available_mb: 4096 });
        assert!(matches!(machine(vec![], false).fit(&cost, 1.0, 1.0), Fit::NoRuntime { .. }));
    }
}
