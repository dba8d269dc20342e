//! Opening and saving: the workflow format read into the canvas and written back through a
//! temporary file, and the question asked before unsaved changes are dropped.

use std::path::{Path, PathBuf};

use super::editor::Editor;
use super::files::{Pending, read_workflow};
use crate::document::convert::{from_file, to_file};

/// Does `pending`, or asks first when there are unsaved changes.
pub fn request(ed: &mut Editor, pending: Pending) {
    if ed.dirty() {
        ed.files.confirm = Some(pending);
    } else {
        carry_out(ed, pending);
    }
}

/// Does `pending` now, dropping unsaved changes.
pub fn carry_out(ed: &mut Editor, pending: Pending) {
    match pending {
        Pending::New => {
            ed.set_doc(crate::document::model::Doc::default());
            super::library::adopt_origin(ed);
            ed.files.path = None;
            after_load(ed, "new graph");
        }
        Pending::Open(path) => open(ed, &path, false),
        Pending::Template(path) => open(ed, &path, true),
        Pending::Quit => ed.files.may_close = true,
    }
}

/// Opens `path`; a template, or a PNG carrying the workflow that made it, opens as a new,
/// unsaved graph that reads inputs beside it (saving never overwrites the image).
pub fn open(ed: &mut Editor, path: &Path, as_template: bool) {
    let image = super::files::is_image(path);
    let as_template = as_template || image;
    let file = if image { super::files::read_image_workflow(path, &ed.registry) } else { read_workflow(path) };
    let doc = file.and_then(|f| from_file(&f, &ed.registry).map_err(|e| e.to_string()));
    match doc {
        Ok(doc) => {
            ed.set_doc(doc);
            super::library::adopt_origin(ed);
            if as_template {
                ed.files.path = None;
                ed.files.base_dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                ed.files.saved_rev = None;
                ed.history.clear();
                let what = if image { "the workflow of" } else { "template" };
                ed.status = format!("{what} {} opened; save it to keep it", path.display());
            } else {
                ed.files.path = Some(path.to_path_buf());
                ed.files.remember(path);
                after_load(ed, &format!("opened {}", path.display()));
            }
        }
        Err(e) => ed.status = format!("cannot open: {e}"),
    }
}

fn after_load(ed: &mut Editor, word: &str) {
    ed.files.saved_rev = Some(ed.rev);
    ed.history.clear();
    ed.status = word.to_string();
}

/// Saves to the graph's file, or asks where when it has none.
pub fn save(ed: &mut Editor) {
    match ed.files.path.clone() {
        Some(path) => save_to(ed, &path),
        None => ed.files.pick_save_as(),
    }
}

/// Writes the graph to `path` (through a temporary file, so a failed write keeps the old one).
pub fn save_to(ed: &mut Editor, path: &Path) {
    let file = to_file(&ed.doc, &ed.registry);
    // One stable form: a node per line, so a one-node edit is a one-line diff.
    let text = switchyard_engine::format::to_canonical_text(&file);
    let tmp = path.with_extension("json.saving");
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    match written {
        Ok(()) => {
            ed.files.path = Some(path.to_path_buf());
            ed.files.saved_rev = Some(ed.rev);
            ed.files.remember(path);
            ed.status = format!("saved {}", path.display());
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            ed.status = format!("cannot save {}: {e}", path.display());
        }
    }
}

/// Sets a node's path param to a picked file, relative to the graph's folder when inside it.
pub fn set_param_path(ed: &mut Editor, key: &str, param: &str, picked: &Path) {
    let root = ed.files.input_root();
    let shown = picked.strip_prefix(&root).unwrap_or(picked).to_string_lossy().into_owned();
    let Some(id) = ed.doc.find(key) else { return };
    ed.doc.snarl[id].params.insert(param.to_string(), serde_json::Value::String(shown));
    ed.commit(&format!("{key}.{param}"));
}
