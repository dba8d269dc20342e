//! The editor's files: the current path, the dialogs, the recent list and the templates
//! folder, and reading a workflow file. What opening and saving do to the editor is
//! `file_actions.rs`.

use std::path::{Path, PathBuf};

use egui_file_dialog::FileDialog;
use switchyard_engine::format::{MAX_FILE_BYTES, WorkflowFile, parse_workflow};

/// Recent files kept.
pub const MAX_RECENT: usize = 10;
/// The open dialog's filter: workflow files, and PNGs that may carry one.
pub const WORKFLOW_FILTER: &str = "Workflows (.json, .png)";

/// What a file dialog was opened for.
#[derive(Clone, Debug, PartialEq)]
pub enum Purpose {
    /// Open a workflow.
    Open,
    /// Save the workflow under a new name.
    SaveAs,
    /// Fill a node's path param.
    Param(String, String),
}

/// Something that would drop unsaved changes, waiting for the user's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Pending {
    /// Start an empty graph.
    New,
    /// Open this file.
    Open(PathBuf),
    /// Open this template as a new graph.
    Template(PathBuf),
    /// Close the window.
    Quit,
}

/// The editor's files.
pub struct Files {
    /// The file the graph was opened from or saved to.
    pub path: Option<PathBuf>,
    /// The revision last saved (or opened).
    pub saved_rev: Option<u64>,
    /// Recently opened or saved files, newest first.
    pub recent: Vec<PathBuf>,
    /// Where the recent list is kept; `None` keeps it in memory only.
    pub recent_store: Option<PathBuf>,
    /// The shared templates folder (`workflows/`).
    pub templates_dir: PathBuf,
    /// Where input paths resolve for a graph with no file yet (a template's folder).
    pub base_dir: PathBuf,
    /// The template browser's list while it is open (read once when it opens).
    pub templates: Option<Vec<(PathBuf, String, String)>>,
    /// An action waiting on "save changes?".
    pub confirm: Option<Pending>,
    /// Set once the user agreed to close.
    pub may_close: bool,
    dialog: FileDialog,
    purpose: Option<Purpose>,
}

impl Files {
    /// Files with the recent list read from `recent_store`.
    pub fn new(templates_dir: PathBuf, recent_store: Option<PathBuf>) -> Self {
        let recent = recent_store.as_deref().map(read_recent).unwrap_or_default();
        let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self {
            path: None,
            saved_rev: Some(0),
            recent,
            recent_store,
            templates_dir,
            base_dir,
            templates: None,
            confirm: None,
            may_close: false,
            dialog: FileDialog::new().add_file_filter_extensions(WORKFLOW_FILTER, vec!["json", "png"]),
            purpose: None,
        }
    }

    /// Where the graph's relative input paths resolve: its file's folder.
    pub fn input_root(&self) -> PathBuf {
        let parent = self.path.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty());
        parent.map_or_else(|| self.base_dir.clone(), Path::to_path_buf)
    }

    /// Opens the template browser, reading the templates folder once.
    pub fn show_templates(&mut self) {
        self.templates = Some(templates(&self.templates_dir));
    }

    /// Opens the picker for a node's path param.
    pub fn pick_param(&mut self, key: String, param: String) {
        self.purpose = Some(Purpose::Param(key, param));
        self.dialog.config_mut().default_file_filter = None;
        self.dialog.pick_file();
    }

    /// Opens the picker to open a workflow: it lists workflow files (and PNGs, which may
    /// carry the workflow that made them) unless the user picks "All files".
    pub fn pick_open(&mut self) {
        self.purpose = Some(Purpose::Open);
        self.dialog.config_mut().default_file_filter = Some(WORKFLOW_FILTER.into());
        self.dialog.pick_file();
    }

    /// The filter the file dialog opens with (`None`: all files).
    pub fn dialog_filter(&mut self) -> Option<String> {
        self.dialog.config_mut().default_file_filter.clone()
    }

    /// Opens the picker to save under a new name.
    pub fn pick_save_as(&mut self) {
        self.purpose = Some(Purpose::SaveAs);
        self.dialog.save_file();
    }

    /// Draws the dialog if open; returns what was picked and for what.
    pub fn dialog(&mut self, ctx: &egui::Context) -> Option<(Purpose, PathBuf)> {
        self.dialog.update(ctx);
        let path = self.dialog.take_picked()?;
        Some((self.purpose.take()?, path))
    }

    pub(super) fn remember(&mut self, path: &Path) {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
        if let Some(store) = &self.recent_store
            && let Err(e) = write_recent(store, &self.recent)
        {
            tracing::warn!(error = %e, file = %store.display(), "cannot keep the recent files list");
        }
    }
}

fn read_recent(store: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(store).unwrap_or_default();
    let mut list: Vec<PathBuf> = serde_json::from_str(&text).unwrap_or_default();
    list.truncate(MAX_RECENT);
    list
}

fn write_recent(store: &Path, list: &[PathBuf]) -> std::io::Result<()> {
    if let Some(dir) = store.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(store, serde_json::to_string_pretty(list).unwrap_or_default())
}

/// Reads and parses a workflow file, refusing what is too large or malformed.
pub fn read_workflow(path: &Path) -> Result<WorkflowFile, String> {
    let len = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    if len > MAX_FILE_BYTES as u64 {
        return Err(format!("{}: {len} bytes; the limit is {MAX_FILE_BYTES}", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = parse_workflow(&text);
    match (parsed.file, parsed.diagnostics.0.first()) {
        (Some(file), None) => Ok(file),
        (_, Some(first)) => Err(format!("{}: {first}", path.display())),
        (None, None) => Err(format!("{}: not a workflow file", path.display())),
    }
}

/// The workflow a PNG saved by a run carries, with that run's overrides applied: the graph
/// that made the image.
pub fn read_image_workflow(path: &Path, registry: &switchyard_engine::Registry) -> Result<WorkflowFile, String> {
    let source = switchyard_session::load::read_source(path).map_err(|d| d.to_string().trim().to_string())?;
    let parsed = parse_workflow(&source.text);
    let mut file = match (parsed.file, parsed.diagnostics.0.first()) {
        (Some(file), None) => file,
        (_, Some(first)) => return Err(format!("{}: the workflow it carries: {first}", path.display())),
        (None, None) => return Err(format!("{}: not a workflow", path.display())),
    };
    let overrides = switchyard_session::load::parse_overrides(&source.overrides).map_err(|d| d.to_string())?;
    for o in &overrides {
        switchyard_engine::format::apply_override(&mut file, o, registry).map_err(|d| d.to_string())?;
    }
    Ok(file)
}

/// Whether `path` names a PNG (which may carry the workflow that made it).
pub fn is_image(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// Templates in the shared folder: path, name and description, sorted by name.
pub fn templates(dir: &Path) -> Vec<(PathBuf, String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(PathBuf, String, String)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let f = read_workflow(&p).ok()?;
            let name = if f.name.is_empty() { p.file_stem()?.to_string_lossy().into_owned() } else { f.name };
            Some((p, name, f.description))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}
