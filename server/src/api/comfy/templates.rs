//! Switchyard's workflows as ComfyUI's frontend's templates: `/templates/index.json` lists
//! the server's template folder (`serve --comfy-templates DIR`), and `/templates/NAME.json`
//! is the workflow translated on the fly into ComfyUI's UI format, with Switchyard's node
//! types. A workflow the frontend cannot show (a list input) is left out of the list.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use switchyard_engine::format::WorkflowFile;

use super::super::ApiError;
use crate::App;
use crate::keys::Caller;

/// Templates listed, at most.
const TEMPLATES_MAX: usize = 500;
/// The largest workflow file read.
const FILE_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// A template's name: its file's stem, plain.
fn plain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The workflow `name` in `dir`, translated.
fn translated(app: &App, dir: &FsPath, name: &str) -> Option<(WorkflowFile, Value)> {
    let path = dir.join(format!("{name}.json"));
    if !plain(name) || std::fs::metadata(&path).ok()?.len() > FILE_MAX_BYTES {
        return None;
    }
    let workflow: WorkflowFile = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let ui = switchyard_session::comfy::ui_of(&workflow, &app.registry).ok()?;
    Some((workflow, ui))
}

/// `GET /templates/index.json`: one category of the server's workflows.
pub(crate) async fn index(State(app): State<Arc<App>>, _caller: Caller) -> Json<Value> {
    let Some(dir) = app.comfy_templates.clone() else { return Json(json!([])) };
    let listed = tokio::task::spawn_blocking(move || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .filter(|n| plain(n))
            .collect();
        names.sort();
        names.truncate(TEMPLATES_MAX);
        names
            .into_iter()
            .filter_map(|name| {
                let (workflow, _) = translated(&app, &dir, &name)?;
                Some(json!({
                    "name": name,
                    "title": workflow.name,
                    "description": workflow.description,
                    "mediaType": "image",
                    "mediaSubtype": "webp",
                    "tags": ["Switchyard"],
                }))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Json(json!([{
        "moduleName": "default",
        "category": "Switchyard",
        "title": "Switchyard",
        "type": "image",
        "templates": listed,
    }]))
}

/// `GET /templates/{name}.json`: the workflow in ComfyUI's UI format.
pub(crate) async fn one(
    State(app): State<Arc<App>>,
    _caller: Caller,
    Path(file): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let missing = || ApiError::not_found(format!("no template {file:?}"));
    let name = file.strip_suffix(".json").ok_or_else(missing)?.to_string();
    let dir = app.comfy_templates.clone().ok_or_else(missing)?;
    let found = tokio::task::spawn_blocking(move || translated(&app, &dir, &name).map(|(_, ui)| ui)).await;
    found.ok().flatten().map(Json).ok_or_else(missing)
}
