//! Execution providers: which ONNX Runtime reports available, and which sessions use.

use ort::ep::{self, ExecutionProvider};

/// Providers in order of preference: the first available one is chosen; CPU always works.
const PREFERENCE: [&str; 5] = [
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "CPUExecutionProvider",
];

/// Every provider the loaded runtime reports available, best first.
pub fn available() -> Vec<&'static str> {
    PREFERENCE.into_iter().filter(|name| is_available(name)).collect()
}

/// The provider new sessions use: the best available one.
pub fn chosen() -> &'static str {
    available().first().copied().unwrap_or("CPUExecutionProvider")
}

fn is_available(name: &str) -> bool {
    let found = match name {
        "TensorrtExecutionProvider" => ep::TensorRT::is_available(),
        "CUDAExecutionProvider" => ep::CUDA::is_available(),
        "CoreMLExecutionProvider" => ep::CoreML::is_available(),
        "DmlExecutionProvider" => ep::DirectML::is_available(),
        _ => ep::CPU::is_available(),
    };
    found.unwrap_or(false)
}

/// The registration for a provider, for a session builder.
pub fn dispatch(name: &str) -> ep::ExecutionProviderDispatch {
    match name {
        "TensorrtExecutionProvider" => ep::TensorRT::default().build(),
        "CUDAExecutionProvider" => ep::CUDA::default().build(),
        "CoreMLExecutionProvider" => ep::CoreML::default().build(),
        "DmlExecutionProvider" => ep::DirectML::default().build(),
        _ => ep::CPU::default().build(),
    }
}
