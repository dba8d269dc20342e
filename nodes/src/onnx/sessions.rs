//! A bounded cache of ONNX Runtime sessions, shared by every node that runs the same model.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use ort::session::Session;

use super::manifest::Manifest;
use super::runtime::OnnxRuntime;

/// The most sessions kept loaded; the least recently used is dropped beyond it.
const MAX_SESSIONS: usize = 16;

/// A loaded model. `ort` runs a session through `&mut`, so runs of one model take turns;
/// different models run at once, bounded by the executor's accelerator limit.
pub type SharedSession = Arc<Mutex<Session>>;

/// Sessions by model file and execution provider.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<Vec<((PathBuf, &'static str), SharedSession)>>,
}

impl SessionCache {
    /// The session for a model, loading it on first use. Returns whether it was already loaded.
    pub fn get(&self, runtime: &OnnxRuntime, manifest: &Manifest) -> Result<(SharedSession, bool), String> {
        let provider = super::providers::chosen();
        let key = (manifest.model_path.clone(), provider);
        let mut entries = lock(&self.entries);
        if let Some(i) = entries.iter().position(|(k, _)| *k == key) {
            let entry = entries.remove(i);
            let session = Arc::clone(&entry.1);
            entries.push(entry);
            return Ok((session, true));
        }
        let started = Instant::now();
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut builder = Session::builder(&runtime.environment)
            .map_err(|e| e.to_string())?
            .with_intra_threads(threads)
            .map_err(|e| e.to_string())?
            // Spinning workers would keep every core busy after a run, starving the tensor
            // conversions and the other nodes that share this machine.
            .with_intra_op_spinning(false)
            .map_err(|e| e.to_string())?;
        // The CPU provider is built in; registering it explicitly only changes its defaults.
        if provider != "CPUExecutionProvider" {
            builder =
                builder.with_execution_providers([super::providers::dispatch(provider)]).map_err(|e| e.to_string())?;
        }
        let session = builder
            .commit_from_file(&manifest.model_path)
            .map_err(|e| format!("cannot load {}: {e}", manifest.model_path.display()))?;
        tracing::info!(model = %manifest.name, provider, load_ms = started.elapsed().as_millis() as u64, "loaded an ONNX session");
        let session = Arc::new(Mutex::new(session));
        if entries.len() >= MAX_SESSIONS {
            entries.remove(0);
        }
        entries.push((key, Arc::clone(&session)));
        Ok((session, false))
    }
}

/// Locks, recovering from poisoning: a panicked run leaves the session itself usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
