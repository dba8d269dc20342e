//! Switchyard's desktop editor: an egui node-graph canvas (egui-snarl) over the workflow
//! format, with each node's placement, credits and carbon quoted live as the graph changes,
//! and runs with per-node state and previews.
//!
//! The UI thread only draws and edits. Validation, quotes, runs and the wallet live on a
//! background tokio runtime ([`work`]), reached through typed requests and replies.
#![deny(missing_docs)]

pub mod canvas;
pub mod document;
pub mod shell;
pub mod work;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use switchyard_engine::Registry;
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::catalog::Catalog;

pub use shell::editor::Editor;

/// Everything the editor starts from.
pub struct Launch {
    /// Node types.
    pub registry: Registry,
    /// Providers and prices.
    pub catalog: Catalog,
    /// Where local models are found.
    pub onnx: OnnxSettings,
    /// A workflow to open at start.
    pub open: Option<PathBuf>,
    /// Where runs write their files.
    pub out_dir: PathBuf,
    /// The shared templates folder.
    pub templates_dir: PathBuf,
    /// The wallet runs spend from; `None` runs unbilled on the user's own keys.
    pub wallet: Option<work::Wallet>,
    /// Where the recent files list is kept; `None` keeps it in memory.
    pub recent_store: Option<PathBuf>,
    /// Placement beyond the policy picker: the time prices are taken at, a deadline,
    /// routes and licences.
    pub placement: switchyard_session::placement::PlacementOptions,
    /// Where inputs may be read from (the settings file's `[inputs]`).
    pub inputs: switchyard_engine::InputRoots,
    /// The server the Server window offers (the settings file's `[server]`), and whether
    /// to connect to it at start.
    pub server: Option<(work::ServerTarget, bool)>,
}

/// Starts the backend and builds the editor; `wake` repaints the UI when a reply arrives.
pub fn start(launch: Launch, wake: impl Fn() + Send + Sync + 'static) -> std::io::Result<Editor> {
    let providers = providers_by_capability(&launch.catalog);
    let settings = work::Settings {
        registry: launch.registry.clone(),
        catalog: Arc::new(launch.catalog),
        onnx: launch.onnx,
        out_dir: launch.out_dir,
        wallet: launch.wallet,
        local_fits: Default::default(),
        placement: launch.placement,
        inputs: launch.inputs,
    };
    let backend = work::Backend::start(settings, wake)?;
    let files = shell::files::Files::new(launch.templates_dir, launch.recent_store);
    let mut editor = Editor::new(launch.registry, backend, files, providers);
    if let Some((target, now)) = launch.server {
        editor.server = target;
        if now {
            editor.connect();
        }
    }
    if let Some(path) = launch.open {
        shell::file_actions::open(&mut editor, &path, false);
    }
    Ok(editor)
}

/// Model ids serving each capability, for the provider pickers.
fn providers_by_capability(catalog: &Catalog) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    let models = catalog.models.iter().map(|m| (&m.id, &m.serves));
    for (id, serves) in models.chain(catalog.local.iter().map(|l| (&l.id, &l.serves))) {
        for capability in serves {
            map.entry(capability.clone()).or_default().push(id.clone());
        }
    }
    map.values_mut().for_each(|v| v.sort());
    map
}
