//! The hardware probe behind `switchyard doctor`: CPU, memory, graphics adapters, the ONNX
//! Runtime and its execution providers, and free disk where the cache lives.

use std::path::Path;

use switchyard_engine::capability::{Adapter, DeviceType, LocalCapability, OnnxRuntimeInfo};

use crate::onnx::runtime::{self, RuntimeConfig};

/// Probes this machine. Never fails: what cannot be read is reported as unknown.
pub fn probe(cache_dir: &Path, onnx: &RuntimeConfig) -> LocalCapability {
    LocalCapability { adapters: adapters(), cache_free_bytes: free_space(cache_dir), ..probe_light(onnx) }
}

/// CPU, memory and the ONNX Runtime only: what local placement needs, without the slower
/// graphics-adapter and disk probes.
pub fn probe_light(onnx: &RuntimeConfig) -> LocalCapability {
    let (cpu_model, memory_total_bytes, memory_available_bytes) = cpu_and_memory();
    let cpu_threads = std::thread::available_parallelism().map_or(1, usize::from);
    let (onnx, onnx_error) = match onnx_info(onnx) {
        Ok(info) => (Some(info), None),
        Err(e) => (None, Some(e)),
    };
    LocalCapability {
        cpu_model,
        cpu_cores: sysinfo::System::physical_core_count().unwrap_or(cpu_threads),
        cpu_threads,
        memory_total_bytes,
        memory_available_bytes,
        adapters: Vec::new(),
        onnx,
        onnx_error,
        cache_free_bytes: None,
    }
}

/// CPU model name, total and available memory; unknown values are reported as such.
fn cpu_and_memory() -> (String, u64, u64) {
    let Ok(mut sys) = sysinfo::System::new() else {
        return ("unknown".into(), 0, 0);
    };
    sys.refresh_memory();
    sys.refresh_cpu_all();
    let model = sys.cpus().first().map_or_else(|| "unknown".to_string(), |c| c.brand().trim().to_string());
    (model, sys.total_memory(), sys.available_memory())
}

fn onnx_info(config: &RuntimeConfig) -> Result<OnnxRuntimeInfo, String> {
    let rt = runtime::load(config).map_err(|e| e.to_string())?;
    let version = library_version(&rt.library)
        .or_else(|| build_version(ort::info()))
        .unwrap_or_else(|| format!("{} (exact version unknown)", runtime::ORT_VERSION));
    let providers: Vec<String> = crate::onnx::providers::available().into_iter().map(String::from).collect();
    let chosen = crate::onnx::providers::chosen().to_string();
    Ok(OnnxRuntimeInfo { version, library: rt.library.display().to_string(), providers, chosen_provider: chosen })
}

/// The version the library reports through the C API's `GetVersionString`.
fn library_version(library: &Path) -> Option<String> {
    // SAFETY: the library is already loaded by ort and passed its version check, so opening it
    // again only adds a reference. `OrtGetApiBase` takes nothing and returns a pointer to a
    // static table; `GetVersionString` returns a static NUL-terminated string.
    unsafe {
        let lib = libloading::Library::new(library).ok()?;
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase").ok()?;
        let base = get_base();
        if base.is_null() {
            return None;
        }
        let text = ((*base).GetVersionString)();
        (!text.is_null()).then(|| std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned())
    }
}

/// The version in ONNX Runtime's build info (`git-branch=rel-1.31.1`).
fn build_version(info: &str) -> Option<String> {
    let branch = info.split([',', ' ']).find_map(|part| part.trim().strip_prefix("git-branch=rel-"))?;
    Some(branch.to_string())
}

/// Every adapter wgpu can enumerate, on every backend.
fn adapters() -> Vec<Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::all();
    let instance = wgpu::Instance::new(desc);
    let found = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    found
        .iter()
        .map(|a| {
            let info = a.get_info();
            Adapter {
                name: info.name,
                vendor: info.vendor,
                backend: format!("{:?}", info.backend),
                device_type: match info.device_type {
                    wgpu::DeviceType::DiscreteGpu => DeviceType::DiscreteGpu,
                    wgpu::DeviceType::IntegratedGpu => DeviceType::IntegratedGpu,
                    wgpu::DeviceType::VirtualGpu => DeviceType::VirtualGpu,
                    wgpu::DeviceType::Cpu => DeviceType::Cpu,
                    wgpu::DeviceType::Other => DeviceType::Other,
                },
                // wgpu does not report video memory.
                memory_bytes: None,
            }
        })
        .collect()
}

/// Free bytes on the disk holding `path` (or its nearest existing ancestor).
fn free_space(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?.canonicalize().ok()?;
    let disks = sysinfo::Disks::new_with_refreshed_list().ok()?;
    disks
        .iter()
        .filter(|d| existing.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| d.available_space())
}

#[cfg(test)]
mod tests {
    use super::build_version;

    #[test]
    fn reads_the_version_from_build_info() {
        assert_eq!(
            build_version("ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc").as_deref(),
            Some("1.31.1")
        );
        assert_eq!(build_version("no version here"), None);
    }
}
