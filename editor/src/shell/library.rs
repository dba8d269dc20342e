//! The Library window: the team's workflows on the connected server (search, open), Save to
//! library with a message, the open graph's sync status, and its conflicts settled node by
//! node (ours or theirs) before saving again.

use std::collections::BTreeMap;

use egui::Ui;
use switchyard_client::library::{Conflict, RevisionView, Side, WorkflowSummary};
use switchyard_library::revision_hash;

use super::editor::Editor;
use crate::document::convert::from_file;
use crate::work::Request;
use crate::work::library::{LibraryAsk, LibraryReply, Origin, SaveRefusal};

/// What the Library window shows and edits.
#[derive(Default)]
pub struct LibraryPanel {
    /// Whether the window is open.
    pub open: bool,
    /// The team's workflows, as last listed.
    pub list: Vec<WorkflowSummary>,
    /// The search box.
    pub search: String,
    /// Where the open graph came from, if from the library.
    pub origin: Option<Origin>,
    /// The graph's revision hash as opened or last saved (the editor's own form of it).
    pub clean: Option<String>,
    /// The path a save writes to (a new workflow's; the origin's otherwise).
    pub path: String,
    /// The save's message.
    pub message: String,
    /// Conflicts of the last save.
    pub conflicts: Vec<Conflict>,
    /// The side picked for each conflict, by key.
    pub choices: BTreeMap<String, Side>,
    /// The open workflow's revisions, newest first.
    pub log: Vec<RevisionView>,
    /// The revision the canvas is compared with, if any.
    pub compared: Option<String>,
    /// Nodes the compared revision had that the graph has not.
    pub removed: Vec<String>,
    /// The team's templates and the form of the one in use.
    pub templates: super::use_template::Templates,
    /// The last thing the library said.
    pub said: String,
}

/// Where the open graph stands against the library.
pub fn sync_status(ed: &Editor) -> String {
    let lib = &ed.library;
    let Some(origin) = &lib.origin else { return "not in the library".into() };
    if !lib.conflicts.is_empty() {
        return format!("conflict: {} to settle", lib.conflicts.len());
    }
    let ahead = lib.clean.as_deref() != Some(revision_hash(&ed.current).as_str());
    let behind = lib.list.iter().find(|w| w.id == origin.id).is_some_and(|w| w.head != origin.base);
    match (ahead, behind) {
        (false, false) => "up to date".into(),
        (true, false) => "ahead: saving adds a revision".into(),
        (false, true) => "behind: the library has a newer revision".into(),
        (true, true) => "ahead and behind: saving merges".into(),
    }
}

fn ask(ed: &mut Editor, ask: LibraryAsk) {
    if !ed.backend.send(Request::Library(ask)) {
        ed.library.said = "busy; try again".into();
    }
}

/// Opens the window and lists the library.
pub fn show_library(ed: &mut Editor) {
    ed.library.open = true;
    ask(ed, LibraryAsk::List);
}

/// Saves the graph to the library (a push from the revision it was opened at).
pub fn save_to_library(ed: &mut Editor) {
    let path = ed.library.path.trim().to_string();
    if path.is_empty() {
        ed.library.said = "name it first: a path such as lookdev/sky".into();
        return;
    }
    let origin = ed.library.origin.clone().filter(|o| o.path == path);
    let save = LibraryAsk::Save {
        origin,
        path,
        message: ed.library.message.clone(),
        file: Box::new(for_library(ed)),
        choices: ed.library.choices.clone(),
    };
    ed.library.said = "saving…".into();
    ask(ed, save);
}

/// A reply from the library.
pub fn on_reply(ed: &mut Editor, ctx: &egui::Context, reply: LibraryReply) {
    match reply {
        LibraryReply::Listed(Ok(list)) => ed.library.list = list,
        LibraryReply::Listed(Err(why))
        | LibraryReply::Opened(Err(why))
        | LibraryReply::Log(Err(why))
        | LibraryReply::Revision(Err(why)) => ed.library.said = why,
        LibraryReply::Log(Ok(log)) => ed.library.log = log,
        LibraryReply::Templates(Ok(list)) => {
            ed.library.templates.list = list
                .into_iter()
                .map(|(t, png)| {
                    let tex = png.and_then(|p| super::use_template::texture(ctx, &t.reference, &p));
                    (t, tex)
                })
                .collect();
        }
        LibraryReply::Templates(Err(why)) => ed.library.said = why,
        LibraryReply::TemplateRan(outcome) => {
            ed.library.templates.ran = match outcome {
                Ok(done) => done,
                Err(why) => format!("not run: {why}"),
            };
            ed.status = ed.library.templates.ran.clone();
        }
        LibraryReply::Revision(Ok((hash, file))) => {
            let diff = switchyard_library::diff(&file, &ed.current);
            ed.look.show_diff(&diff);
            ed.library.removed = diff
                .changes
                .iter()
                .filter_map(|c| match c {
                    switchyard_library::Change::Removed { node, .. } => Some(node.clone()),
                    _ => None,
                })
                .collect();
            ed.library.said =
                format!("{} change(s) since {}; marked on the canvas", diff.changes.len(), &hash[..12.min(hash.len())]);
            ed.library.compared = Some(hash);
        }
        LibraryReply::Opened(Ok((origin, file))) => match from_file(&file, &ed.registry) {
            Ok(doc) => {
                ed.set_doc(doc);
                ed.files.path = None;
                ed.files.saved_rev = Some(ed.rev);
                ed.history.clear();
                ed.library.conflicts.clear();
                ed.library.choices.clear();
                clear_diff(ed);
                ed.status = format!("opened {} from the library", origin.path);
                ask(ed, LibraryAsk::Log { id: origin.id.clone() });
                ed.library.said = ed.status.clone();
                set_origin(ed, origin);
            }
            Err(e) => ed.library.said = format!("cannot open: {e}"),
        },
        LibraryReply::Saved(Ok((origin, file, merged))) => {
            if merged && let Ok(doc) = from_file(&file, &ed.registry) {
                ed.set_doc(doc);
            }
            // A graph with no file of its own is safe once in the library; one with a file
            // still has that file to save.
            if ed.files.path.is_none() {
                ed.files.saved_rev = Some(ed.rev);
            }
            ed.library.conflicts.clear();
            ed.library.choices.clear();
            ed.library.message.clear();
            let how = if merged { "merged with the library's changes and saved" } else { "saved" };
            ed.status = format!("{how} to {} ({})", origin.path, &origin.base[..12.min(origin.base.len())]);
            ed.library.said = ed.status.clone();
            ask(ed, LibraryAsk::Log { id: origin.id.clone() });
            set_origin(ed, origin);
            ask(ed, LibraryAsk::List);
        }
        LibraryReply::Saved(Err(SaveRefusal::Conflicts(conflicts))) => {
            ed.library.said =
                format!("both sides changed {} thing(s): pick a side for each, then save again", conflicts.len());
            ed.status = ed.library.said.clone();
            for c in &conflicts {
                ed.library.choices.entry(c.key.clone()).or_insert(Side::Ours);
            }
            ed.library.conflicts = conflicts;
        }
        LibraryReply::Saved(Err(SaveRefusal::Other(why))) => {
            ed.library.said = format!("not saved: {why}");
            ed.status = ed.library.said.clone();
        }
    }
}

/// Where the graph's library origin is kept in its own file (the layout, which never
/// affects a run), so a graph saved to disk and edited offline, on any device, saves back to
/// the library later from the revision it was made from, merging.
const ORIGIN_KEY: &str = "library_origin";

/// Records `origin` in the graph's layout, and takes the graph as clean at it.
fn set_origin(ed: &mut Editor, origin: Origin) {
    let kept = serde_json::json!({ "id": origin.id, "path": origin.path, "base": origin.base });
    ed.doc.ui_rest.insert(ORIGIN_KEY.into(), kept);
    ed.current = crate::document::convert::to_file(&ed.doc, &ed.registry);
    ed.library.clean = Some(revision_hash(&ed.current).to_string());
    ed.library.path = origin.path.clone();
    ed.library.origin = Some(origin);
}

/// A graph opened from a file: the library origin it carries, if any (its local edits are
/// unknown, so it counts as ahead until saved).
pub fn adopt_origin(ed: &mut Editor) {
    let kept = ed.doc.ui_rest.get(ORIGIN_KEY).and_then(|v| {
        Some(Origin {
            id: v.get("id")?.as_str()?.to_string(),
            path: v.get("path")?.as_str()?.to_string(),
            base: v.get("base")?.as_str()?.to_string(),
        })
    });
    ed.library.clean = None;
    ed.library.conflicts.clear();
    ed.library.choices.clear();
    clear_diff(ed);
    match kept {
        Some(origin) => {
            ed.library.path = origin.path.clone();
            ed.library.origin = Some(origin);
        }
        None => ed.library.origin = None,
    }
}

/// The graph as the library keeps it: without the origin it carries here.
fn for_library(ed: &Editor) -> switchyard_engine::format::WorkflowFile {
    let mut file = ed.current.clone();
    if let Some(ui) = &mut file.ui {
        ui.shift_remove(ORIGIN_KEY);
    }
    file
}

/// The listed workflows by folder (the path up to its last `/`; the team's top level as
/// `/`), folders in order.
fn by_folder<'a>(list: &[&'a WorkflowSummary]) -> BTreeMap<String, Vec<&'a WorkflowSummary>> {
    let mut out: BTreeMap<String, Vec<&WorkflowSummary>> = BTreeMap::new();
    for w in list {
        let folder = w.path.rsplit_once('/').map_or("/".to_string(), |(f, _)| format!("{f}/"));
        out.entry(folder).or_default().push(w);
    }
    out
}

/// Takes the diff marks off the canvas.
pub fn clear_diff(ed: &mut Editor) {
    ed.look.diff.clear();
    ed.library.compared = None;
    ed.library.removed.clear();
}

/// The open workflow's history: each revision, with Compare to draw what changed since it.
fn history(ed: &mut Editor, ui: &mut Ui) {
    let Some(origin) = ed.library.origin.clone() else { return };
    ui.separator();
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("History").strong());
        if ed.library.compared.is_some() && ui.button("Clear marks").clicked() {
            clear_diff(ed);
        }
    });
    let mut compare = None;
    egui::ScrollArea::vertical().id_salt("library-history").max_height(160.0).show(ui, |ui| {
        for r in &ed.library.log {
            ui.horizontal(|ui| {
                let layout = if r.layout_only { " (layout)" } else { "" };
                ui.label(format!("{}  {}  {}{layout}", &r.hash[..12.min(r.hash.len())], r.author, r.message));
                if ui.small_button(format!("Compare {}", &r.hash[..8.min(r.hash.len())])).clicked() {
                    compare = Some(r.hash.clone());
                }
            });
        }
    });
    if !ed.library.removed.is_empty() {
        ui.label(format!("removed since then: {}", ed.library.removed.join(", ")));
    }
    if let Some(hash) = compare {
        ask(ed, LibraryAsk::Revision { id: origin.id, hash });
    }
}

fn shown(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map_or_else(|| "(none)".to_string(), serde_json::Value::to_string)
}

fn conflicts(ed: &mut Editor, ui: &mut Ui) {
    ui.separator();
    ui.label(egui::RichText::new("Conflicts").strong());
    for c in ed.library.conflicts.clone() {
        ui.horizontal(|ui| {
            ui.label(&c.key).on_hover_text(format!("base {}", shown(&c.base)));
            let pick = ed.library.choices.entry(c.key.clone()).or_insert(Side::Ours);
            ui.radio_value(pick, Side::Ours, format!("mine: {}", shown(&c.ours)));
            ui.radio_value(pick, Side::Theirs, format!("theirs: {}", shown(&c.theirs)));
        });
    }
}

/// Draws the Library window.
pub fn window(ed: &mut Editor, ctx: &egui::Context) {
    let mut open = ed.library.open;
    let mut picked = None;
    egui::Window::new("Library").open(&mut open).default_width(420.0).show(ctx, |ui| {
        if ed.connected.is_none() {
            ui.label("Connect to a server first (Server > Connect…).");
            return;
        }
        ui.horizontal(|ui| {
            let label = ui.label("Search");
            ui.add(egui::TextEdit::singleline(&mut ed.library.search).desired_width(200.0)).labelled_by(label.id);
            if ui.button("Refresh").clicked() {
                ask(ed, LibraryAsk::List);
            }
        });
        let needle = ed.library.search.to_lowercase();
        egui::ScrollArea::vertical().max_height(240.0).show(ui, |ui| {
            let shown: Vec<&WorkflowSummary> =
                ed.library.list.iter().filter(|w| w.path.to_lowercase().contains(&needle)).collect();
            for (folder, items) in by_folder(&shown) {
                egui::CollapsingHeader::new(folder).default_open(true).show(ui, |ui| {
                    for w in items {
                        let label = format!("{}  ({} revisions)", w.path, w.revisions);
                        if ui.button(label).on_hover_text(format!("last by {}", w.updated_by)).clicked() {
                            picked = Some(w.id.clone());
                        }
                    }
                });
            }
        });
        ui.separator();
        ui.label(format!("sync: {}", sync_status(ed)));
        egui::Grid::new("library-save").num_columns(2).show(ui, |ui| {
            let label = ui.label("Path");
            ui.add(egui::TextEdit::singleline(&mut ed.library.path).hint_text("lookdev/sky")).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Message");
            ui.add(egui::TextEdit::singleline(&mut ed.library.message).hint_text("what changed")).labelled_by(label.id);
            ui.end_row();
        });
        if !ed.library.conflicts.is_empty() {
            conflicts(ed, ui);
        }
        if ui.button("Save to library").clicked() {
            save_to_library(ed);
        }
        if !ed.library.said.is_empty() {
            ui.label(egui::RichText::new(&ed.library.said).small());
        }
        history(ed, ui);
        super::use_template::section(ed, ui);
    });
    ed.library.open &= open;
    if let Some(id) = picked {
        ask(ed, LibraryAsk::Open { id });
    }
}
