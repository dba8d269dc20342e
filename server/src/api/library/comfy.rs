//! ComfyUI's frontend saves its workflows as user data (`workflows/NAME.json`); each save
//! also lands in the team library at `comfy/NAME` as a new revision, so ComfyUI's saves
//! get the library's history, diff and restore. The ComfyUI document is kept verbatim in
//! the revision's layout (`ui.comfy_workflow`); the nodes are its import, or none (with the
//! reason in the description) when it uses nodes Switchyard lacks.

use serde_json::Value;
use switchyard_engine::format::{FORMAT_NAME, FileMap, WorkflowFile};

use super::check_path;
use super::workflows::{append_head, create_at};
use crate::App;
use crate::api::ApiError;
use crate::keys::{Caller, Permission};

/// The library path of a ComfyUI user-data path, if it is a saved workflow.
pub(crate) fn library_path(userdata: &str) -> Option<String> {
    let name = userdata.strip_prefix("workflows/")?.strip_suffix(".json")?;
    let path = format!("comfy/{name}");
    check_path(&path).is_ok().then_some(path)
}

fn workflow_of(app: &App, name: &str, text: &str) -> WorkflowFile {
    let doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let mut file = match switchyard_session::comfy::import_text(text, name, &app.registry) {
        Ok(imported) => imported.workflow,
        Err(e) => WorkflowFile {
            format: FORMAT_NAME.into(),
            version: 1,
            name: name.into(),
            description: format!("A ComfyUI workflow Switchyard cannot run yet: {e}"),
            nodes: FileMap::default(),
            run: None,
            ui: None,
        },
    };
    file.ui.get_or_insert_with(Default::default).insert("comfy_workflow".into(), doc);
    file
}

/// Records a ComfyUI save in the library (a key that may not edit workflows saves only the
/// user data). Failures are logged, never the save's.
pub(crate) async fn saved(app: &App, caller: &Caller, userdata: &str, text: &str) {
    let Some(path) = library_path(userdata) else { return };
    if !caller.role.may(Permission::Edit) {
        return;
    }
    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
    let file = workflow_of(app, &name, text);
    let outcome: Result<(), ApiError> = async {
        match app.store.library_by_path(&caller.tenant, &path).await? {
            Some(w) => append_head(app, caller, &w.id, &file, "saved in ComfyUI").await,
            None => create_at(app, caller, &path, &file, "saved in ComfyUI").await.map(|_| ()),
        }
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(tenant = %caller.tenant, ?e, "a ComfyUI save did not reach the library");
    }
}

/// A ComfyUI workflow moved or deleted: the library's follows (deleted ones are restorable).
pub(crate) async fn moved(app: &App, caller: &Caller, from: &str, to: Option<&str>) {
    let Some(path) = library_path(from) else { return };
    if !caller.role.may(Permission::Edit) {
        return;
    }
    let Ok(Some(w)) = app.store.library_by_path(&caller.tenant, &path).await else { return };
    let result = match to.and_then(library_path) {
        Some(dest) => {
            app.store.library_move(&caller.tenant, &w.id, &dest, &super::author(caller), crate::store::now_ms()).await
        }
        None => app.store.library_set_deleted(&caller.tenant, &w.id, Some(crate::store::now_ms())).await,
    };
    if let Err(e) = result {
        tracing::warn!(tenant = %caller.tenant, error = %e, "a ComfyUI move did not reach the library");
    }
}
