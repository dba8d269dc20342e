//! `/v1/library`: the team's workflows in folders, each a history of immutable revisions
//! (push merges three-way, restore, move, soft delete), diffs between any two revisions, and
//! templates released from revisions. Every query names the caller's tenant; another
//! tenant's workflow or template is not found.

pub(crate) mod comfy;
mod templates;
pub(crate) mod workflows;

use axum::http::StatusCode;
use axum::routing::{MethodRouter, delete, get, post};
use std::sync::Arc;

use super::ApiError;
use super::openapi::Doc;
use crate::App;
use crate::keys::Caller;
use crate::library::{
    CreateWorkflow, DiffReply, MoveWorkflowRequest, PublishRequest, PushReply, PushRequest, RestoreRequest,
    RevisionLog, TemplateList, TemplateStateRequest, TemplateView, WorkflowList, WorkflowSummary, WorkflowView,
};
pub(crate) use templates::{resolve_for_farm, resolve_for_run};
pub use workflows::check_push;

/// The longest library path.
const PATH_MAX_BYTES: usize = 256;
/// The most folder levels in a path.
const PATH_DEPTH_MAX: usize = 8;

/// Who made a change: the member a member's key spends as, else the key's id.
fn author(caller: &Caller) -> String {
    caller.member.clone().unwrap_or_else(|| caller.key_id.clone())
}

/// A library path: folders and a name separated by `/`, each a name any file system takes.
pub(crate) fn check_path(path: &str) -> Result<(), ApiError> {
    let bad = |why: String| {
        ApiError::bad_request("bad-path", format!("library path {path:?}: {why}"))
            .help("write folders and a name separated by '/', such as lookdev/plates/sky")
    };
    if path.is_empty() || path.len() > PATH_MAX_BYTES {
        return Err(bad(format!("must be 1 to {PATH_MAX_BYTES} bytes")));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > PATH_DEPTH_MAX {
        return Err(bad(format!("at most {PATH_DEPTH_MAX} levels")));
    }
    for part in parts {
        // Names are also file names in a local copy: nothing a file system refuses.
        let ok_chars =
            part.chars().all(|c| !c.is_control() && !matches!(c, '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*'));
        if part.is_empty() || part.len() > 128 || !ok_chars || part == "." || part == ".." || part.trim() != part {
            return Err(bad(format!(
                "{part:?} is not a folder or name (1 to 128 bytes, no control characters or \\ < > : \" | ? *, not . or .., no spaces at the ends)"
            )));
        }
    }
    Ok(())
}

fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

/// The library's routes, documented.
pub(crate) fn routes() -> Vec<(Doc, MethodRouter<Arc<App>>)> {
    vec![
        (
            Doc::new("get", "/library/workflows", "The team's workflows in path order (folder, search, deleted)")
                .query(&[
                    ("folder", "string"),
                    ("q", "string"),
                    ("deleted", "boolean"),
                    ("after", "string"),
                    ("limit", "integer"),
                ])
                .reply::<WorkflowList>(200)
                .errors(&[400]),
            get(workflows::list),
        ),
        (
            Doc::new("post", "/library/workflows", "Add a workflow to the library (editor)")
                .body::<CreateWorkflow>()
                .reply::<WorkflowView>(201)
                .errors(&[400, 403, 409]),
            post(workflows::create),
        ),
        (
            Doc::new("get", "/library/workflows/{id}", "A workflow at its head or at `revision`")
                .query(&[("revision", "string")])
                .reply::<WorkflowView>(200)
                .errors(&[400, 404]),
            get(workflows::show),
        ),
        (
            Doc::new("delete", "/library/workflows/{id}", "Delete a workflow (restorable; editor)")
                .reply::<WorkflowSummary>(200)
                .errors(&[403, 404]),
            delete(workflows::remove),
        ),
        (
            Doc::new("post", "/library/workflows/{id}/undelete", "Bring a deleted workflow back (editor)")
                .reply::<WorkflowSummary>(200)
                .errors(&[403, 404, 409]),
            post(workflows::undelete),
        ),
        (
            Doc::new("get", "/library/workflows/{id}/log", "A workflow's revisions, newest first")
                .query(&[("limit", "integer")])
                .reply::<RevisionLog>(200)
                .errors(&[404]),
            get(workflows::log),
        ),
        (
            Doc::new("get", "/library/workflows/{id}/diff", "What changed between two revisions, node by node")
                .query(&[("from", "string"), ("to", "string")])
                .reply::<DiffReply>(200)
                .errors(&[400, 404]),
            get(workflows::diff),
        ),
        (
            Doc::new(
                "post",
                "/library/workflows/{id}/push",
                "A new revision from `base`, merged if the head moved (editor)",
            )
            .body::<PushRequest>()
            .reply::<PushReply>(201)
            .errors(&[400, 403, 404, 409]),
            post(workflows::push),
        ),
        (
            Doc::new("post", "/library/workflows/{id}/restore", "Make an old revision the head again (editor)")
                .body::<RestoreRequest>()
                .reply::<PushReply>(201)
                .errors(&[400, 403, 404]),
            post(workflows::restore),
        ),
        (
            Doc::new("post", "/library/workflows/{id}/move", "Rename or move a workflow (editor)")
                .body::<MoveWorkflowRequest>()
                .reply::<WorkflowSummary>(200)
                .errors(&[400, 403, 404, 409]),
            post(workflows::move_to),
        ),
        (
            Doc::new("get", "/library/templates", "The team's templates, every version").reply::<TemplateList>(200),
            get(templates::list),
        ),
        (
            Doc::new(
                "post",
                "/library/templates",
                "Release a workflow revision as a template's next version (publisher)",
            )
            .body::<PublishRequest>()
            .reply::<TemplateView>(201)
            .errors(&[400, 403, 404]),
            post(templates::publish),
        ),
        (
            Doc::new(
                "get",
                "/library/templates/{name}/{version}",
                "One version of a template (`latest`: the newest published)",
            )
            .reply::<TemplateView>(200)
            .errors(&[400, 404]),
            get(templates::show),
        ),
        (
            Doc::new("get", "/library/templates/{name}/{version}/preview", "A template's preview image (PNG)")
                .file_reply()
                .errors(&[400, 404]),
            get(templates::preview),
        ),
        (
            Doc::new(
                "post",
                "/library/templates/{name}/{version}/state",
                "Publish, deprecate or draft a version (publisher)",
            )
            .body::<TemplateStateRequest>()
            .reply::<TemplateView>(200)
            .errors(&[400, 403, 404]),
            post(templates::set_state),
        ),
    ]
}
