//! Finding and loading the ONNX Runtime shared library (ort's load-dynamic).
//!
//! A shared library loads once per process, so the loaded runtime is process-wide by nature;
//! everything else (models, sessions, registries) stays explicit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The ONNX Runtime version this build's `ort` speaks.
pub const ORT_VERSION: &str = "1.31";

/// The library's file name on this platform.
#[cfg(target_os = "linux")]
pub const LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";
/// The library's file name on this platform.
#[cfg(target_os = "macos")]
pub const LIBRARY_NAME: &str = "libonnxruntime.1.31.1.dylib";
/// The library's file name on this platform.
#[cfg(target_os = "windows")]
pub const LIBRARY_NAME: &str = "onnxruntime.dll";

/// How to install the library, for error messages.
const INSTALL_HINT: &str = "install it with `bash scripts/install-onnxruntime` (from PyPI's onnxruntime==1.31.1 wheel), \
or set ORT_DYLIB_PATH to a libonnxruntime 1.31 library";

/// Where the runtime may be configured explicitly.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// A library path from the config file; tried first.
    pub library: Option<PathBuf>,
}

/// The ONNX Runtime could not be used.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No library was found.
    #[error("ONNX Runtime {ORT_VERSION} was not found (looked at: {looked}); {INSTALL_HINT}")]
    NotFound {
        /// Every place looked at.
        looked: String,
    },
    /// A path was set explicitly but holds no file.
    #[error("ONNX Runtime library {path:?} (from {source_name}) does not exist; {INSTALL_HINT}")]
    ConfiguredMissing {
        /// The path.
        path: PathBuf,
        /// Where it was set.
        source_name: &'static str,
    },
    /// The library would not load, or is another version.
    #[error("ONNX Runtime at {path:?} could not be loaded: {message}; {INSTALL_HINT}")]
    LoadFailed {
        /// The library.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// A loaded ONNX Runtime.
pub struct OnnxRuntime {
    /// The environment sessions are built in.
    pub environment: ort::environment::Environment,
    /// The library file in use.
    pub library: PathBuf,
    /// How it was found.
    pub found_by: &'static str,
}

static LOADED: OnceLock<Result<Arc<OnnxRuntime>, RuntimeError>> = OnceLock::new();

/// Loads the runtime once per process; later calls return the first result.
pub fn load(config: &RuntimeConfig) -> Result<Arc<OnnxRuntime>, RuntimeError> {
    LOADED.get_or_init(|| load_uncached(config).map(Arc::new)).clone()
}

fn load_uncached(config: &RuntimeConfig) -> Result<OnnxRuntime, RuntimeError> {
    let (library, found_by) = locate(config, std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))?;
    let failed = |message: String| RuntimeError::LoadFailed { path: library.clone(), message };
    // ort panics on a version mismatch; turn that into an error the node can report.
    let built = std::panic::catch_unwind(|| {
        ort::init_from(&library).map_err(|e| e.to_string())?.with_name("switchyard").build().map_err(|e| e.to_string())
    });
    let environment = match built {
        Ok(Ok(env)) => env,
        Ok(Err(message)) => return Err(failed(message)),
        Err(payload) => return Err(failed(switchyard_engine::panic_message(payload))),
    };
    tracing::info!(library = %library.display(), found_by, "loaded ONNX Runtime");
    Ok(OnnxRuntime { environment, library, found_by })
}

/// Finds the library: the config setting, then `ORT_DYLIB_PATH`, then a project-local
/// `third_party/onnxruntime/` (in the current folder or above the executable), then the
/// executable's own folder. A path set explicitly but missing is an error, not skipped.
pub fn locate(config: &RuntimeConfig, env_path: Option<PathBuf>) -> Result<(PathBuf, &'static str), RuntimeError> {
    for (path, source_name) in [(config.library.clone(), "the config file"), (env_path, "ORT_DYLIB_PATH")] {
        if let Some(path) = path {
            return if path.is_file() {
                Ok((path, source_name))
            } else {
                Err(RuntimeError::ConfiguredMissing { path, source_name })
            };
        }
    }
    let candidates = implicit_candidates();
    for (path, source_name) in &candidates {
        if path.is_file() {
            return Ok((path.clone(), source_name));
        }
    }
    let looked = candidates.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Err(RuntimeError::NotFound { looked: format!("the config file (unset), ORT_DYLIB_PATH (unset), {looked}") })
}

fn implicit_candidates() -> Vec<(PathBuf, &'static str)> {
    let in_third_party = |dir: &Path| dir.join("third_party").join("onnxruntime").join(LIBRARY_NAME);
    let mut out = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        out.push((in_third_party(&cwd), "third_party/ in the current folder"));
    }
    let exe_dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
    if let Some(dir) = &exe_dir {
        // A checkout's target/{debug,release}/ binary finds the checkout's third_party/.
        for ancestor in dir.ancestors().skip(1).take(3) {
            out.push((in_third_party(ancestor), "third_party/ above the executable"));
        }
        out.push((dir.join(LIBRARY_NAME), "the executable's folder"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_path_that_is_missing_is_an_error_not_a_fallback() {
        let config = RuntimeConfig { library: Some("/nonexistent/libonnxruntime.so".into()) };
        let err = locate(&config, None).unwrap_err();
        assert!(err.to_string().contains("from the config file) does not exist"), "{err}");
        let err = locate(&RuntimeConfig::default(), Some("/nope.so".into())).unwrap_err();
        assert!(err.to_string().contains("ORT_DYLIB_PATH"), "{err}");
        assert!(err.to_string().contains("scripts/install-onnxruntime"), "{err}");
    }
}
