//! The settings file, `switchyard.toml`: where local models and the ONNX Runtime live.
//! Later sections (providers, credits) grow here. A setting in the file wins over the
//! environment; relative paths are taken from the file's folder.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cloud::client::ClientConfig;
use crate::cloud::{CloudSettings, PROVIDERS, ProviderSettings};

use crate::onnx::OnnxSettings;
use crate::onnx::runtime::RuntimeConfig;

/// The file name looked for in the current folder.
pub const FILE_NAME: &str = "switchyard.toml";

/// The parsed settings file; every section is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Local inference.
    #[serde(default)]
    pub onnx: OnnxSection,
    /// Partner providers, by name (`[providers.openai]`).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
    /// Where inputs may be read from.
    #[serde(default)]
    pub inputs: InputsSection,
    /// The Switchyard server `submit` and `runs` talk to.
    #[serde(default)]
    pub server: ServerSection,
    /// The file these settings came from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[server]`: where `switchyard submit` and `switchyard runs` send work. The token may
/// also come from `SWITCHYARD_TOKEN`, which wins; it is never printed.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The server's base URL, such as `http://farm:8188`.
    pub url: Option<String>,
    /// An API key (`sy_…`).
    pub token: Option<String>,
}

impl std::fmt::Debug for ServerSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.token.as_ref().map(|_| "<hidden>");
        f.debug_struct("ServerSection").field("url", &self.url).field("token", &token).finish()
    }
}

/// `[onnx]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSection {
    /// The ONNX Runtime library; tried before `ORT_DYLIB_PATH`.
    pub runtime: Option<PathBuf>,
    /// The models folder; used before `SWITCHYARD_MODELS`.
    pub models: Option<PathBuf>,
}

/// `[inputs]`: the input-root policy. Off by default on the command line (inputs are read
/// from anywhere the user can read); with `confine = true`, inputs must lie in the
/// workflow's folder or one of `roots` (relative roots are taken from this file's folder).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsSection {
    /// Refuse inputs outside the allowed folders.
    #[serde(default)]
    pub confine: bool,
    /// Folders inputs may be read from besides the workflow's own.
    #[serde(default)]
    pub roots: Vec<PathBuf>,
}

/// `[providers.NAME]`: where a provider is reached, its key, and its limits.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// Base URL: a proxy, a regional endpoint, or `switchyard mock-providers`.
    pub base_url: Option<String>,
    /// The variable holding the key (default: the provider's usual one, such as OPENAI_API_KEY).
    pub api_key_env: Option<String>,
    /// Requests in flight at once.
    pub concurrency: Option<usize>,
    /// Requests per second.
    pub rate_per_s: Option<u32>,
    /// Retries after the first attempt.
    pub max_retries: Option<u32>,
    /// First retry backoff.
    pub backoff_base_ms: Option<u64>,
    /// One request's limit.
    pub request_timeout_ms: Option<u64>,
    /// The whole call's limit.
    pub overall_timeout_ms: Option<u64>,
    /// Delay between polls of an async task.
    pub poll_interval_ms: Option<u64>,
}

/// The settings file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file named explicitly does not exist or cannot be read.
    #[error("cannot read the settings file {path} ({why}): {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Where its name came from.
        why: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid settings.
    #[error("the settings file {path} is invalid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
}

impl Config {
    /// The input-root policy, with relative roots taken from the settings file's folder.
    pub fn input_roots(&self) -> switchyard_engine::InputRoots {
        let base = self.source.as_deref().and_then(Path::parent).unwrap_or(Path::new("."));
        let roots = self.inputs.roots.iter().map(|r| if r.is_absolute() { r.clone() } else { base.join(r) }).collect();
        switchyard_engine::InputRoots { confine: self.inputs.confine, roots }
    }

    /// Finds and reads the settings: `explicit` (a `--config` flag), else `SWITCHYARD_CONFIG`,
    /// else `./switchyard.toml`, else `switchyard/config.toml` in the user's config folder,
    /// else the defaults. A file named explicitly must exist.
    pub fn discover(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let named = explicit
            .map(|p| (p.to_path_buf(), "--config"))
            .or_else(|| std::env::var_os("SWITCHYARD_CONFIG").map(|p| (PathBuf::from(p), "SWITCHYARD_CONFIG")));
        if let Some((path, why)) = named {
            return Self::read(&path, why);
        }
        let user = dirs::config_dir().map(|d| d.join("switchyard").join("config.toml"));
        match [Some(PathBuf::from(FILE_NAME)), user].into_iter().flatten().find(|p| p.is_file()) {
            Some(path) => Self::read(&path, "found by default"),
            None => Ok(Self::default()),
        }
    }

    /// Reads one settings file.
    pub fn read(path: &Path, why: &'static str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_path_buf(),
            why,
            source,
        })?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
        if let Some(name) = config.providers.keys().find(|n| !PROVIDERS.iter().any(|p| p.name == n.as_str())) {
            let known = PROVIDERS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
            let message = format!("[providers.{name}] names no provider this build has; known: {known}");
            return Err(ConfigError::Invalid { path: path.to_path_buf(), message });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(p) = p.as_mut().filter(|p| p.is_relative()) {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.onnx.runtime);
        resolve(&mut config.onnx.models);
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Cloud settings: keys only ever from the environment (never from a file that could be
    /// shared), everything else from `[providers.*]`.
    pub fn cloud_settings(&self) -> CloudSettings {
        let mut out = CloudSettings::default();
        for (name, p) in &self.providers {
            let mut client = ClientConfig::default();
            let set = |dst: &mut u64, v: Option<u64>| *dst = v.unwrap_or(*dst);
            set(&mut client.backoff_base_ms, p.backoff_base_ms);
            set(&mut client.request_timeout_ms, p.request_timeout_ms);
            set(&mut client.overall_timeout_ms, p.overall_timeout_ms);
            set(&mut client.poll_interval_ms, p.poll_interval_ms);
            client.concurrency = p.concurrency.unwrap_or(client.concurrency);
            client.rate_per_s = p.rate_per_s.unwrap_or(client.rate_per_s);
            client.max_retries = p.max_retries.unwrap_or(client.max_retries);
            let settings = ProviderSettings {
                base_url: p.base_url.clone(),
                api_key: None,
                api_key_env: p.api_key_env.clone(),
                client,
            };
            out.providers.insert(name.clone(), settings);
        }
        out
    }

    /// ONNX settings: the file's, then the environment's, then the defaults.
    pub fn onnx_settings(&self) -> OnnxSettings {
        let mut settings = OnnxSettings::from_env();
        if let Some(models) = &self.onnx.models {
            settings.models_dir = models.clone();
        }
        settings.runtime = RuntimeConfig { library: self.onnx.runtime.clone() };
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_file_and_unknown_keys_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("switchyard.toml");
        std::fs::write(&file, "[onnx]\nruntime = \"lib/libonnxruntime.so\"\nmodels = \"/srv/models\"\n").unwrap();
        let c = Config::read(&file, "test").unwrap();
        assert_eq!(c.onnx.runtime.clone().unwrap(), tmp.path().join("lib/libonnxruntime.so"));
        assert_eq!(c.onnx_settings().models_dir, PathBuf::from("/srv/models"));
        std::fs::write(&file, "[onnx]\nruntim = \"x\"\n").unwrap();
        let err = Config::read(&file, "test").unwrap_err().to_string();
        assert!(err.contains("unknown field `runtim`") && err.contains("line 2"), "{err}");
        let err = Config::discover(Some(&tmp.path().join("missing.toml"))).unwrap_err().to_string();
        assert!(err.contains("missing.toml") && err.contains("--config"), "{err}");
    }

    #[test]
    fn a_misspelt_provider_section_is_refused_not_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("switchyard.toml");
        std::fs::write(&file, "[providers.runwayml]\nbase_url = \"http://127.0.0.1:1\"\n").unwrap();
        let err = Config::read(&file, "test").unwrap_err().to_string();
        assert!(err.contains("[providers.runwayml]") && err.contains("runway"), "{err}");
    }
}
