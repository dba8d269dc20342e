//! The team library's messages (`/v1/library`): workflows with their revisions, pushes that
//! merge, diffs, and templates released from revisions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use switchyard_library::{Change, Conflict, Diff, Side};

/// A workflow in the library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkflowSummary {
    /// Its id: stable across renames and moves.
    pub id: String,
    /// Its folder and name, `lookdev/plates/sky`.
    pub path: String,
    /// Its head revision's hash.
    pub head: String,
    /// How many revisions it has.
    pub revisions: i64,
    /// When and by whom it last changed (unix ms; a member or key id).
    pub updated_at_ms: i64,
    pub updated_by: String,
    /// Deleted (restorable) since then, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at_ms: Option<i64>,
}

/// A page of the library, in path order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowSummary>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One immutable revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RevisionView {
    /// The hash of the canonical file (its content address).
    pub hash: String,
    /// The revisions it was made from: none for the first, two for a merge.
    pub parents: Vec<String>,
    /// Who made it (a member or key id) and when (unix ms).
    pub author: String,
    pub created_at_ms: i64,
    pub message: String,
    /// Whether it changed only the layout.
    pub layout_only: bool,
}

/// A workflow at one revision.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WorkflowView {
    pub summary: WorkflowSummary,
    pub revision: RevisionView,
    /// The workflow file at that revision.
    pub workflow: Value,
}

/// A workflow's history, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RevisionLog {
    pub revisions: Vec<RevisionView>,
}

/// `POST /v1/library/workflows`: a new workflow.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflow {
    pub path: String,
    pub workflow: Value,
    #[serde(default)]
    pub message: String,
}

/// `POST /v1/library/workflows/{id}/push`: a new revision made from `base`. When `base` is
/// not the head, the server merges three-way; conflicts come back (409) unless `choices`
/// settle them by key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub base: String,
    pub workflow: Value,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub choices: BTreeMap<String, Side>,
}

/// What a push made.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PushReply {
    pub summary: WorkflowSummary,
    /// The new head (the pushed revision, or the merge).
    pub revision: RevisionView,
    /// Whether the push was merged with changes it had not seen.
    pub merged: bool,
    /// Layout entries both sides changed, where the push's were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layout_kept: Vec<String>,
    /// The head already had this content: nothing new was made.
    #[serde(default)]
    pub unchanged: bool,
}

/// A push's conflicts (the `details` of a 409 `merge-conflict`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConflictDetails {
    /// The head the push was merged with: push again with this as `base` after pulling,
    /// or with `choices` for every conflict.
    pub head: String,
    pub conflicts: Vec<Conflict>,
}

/// A diff between two revisions.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DiffReply {
    pub from: String,
    pub to: String,
    pub diff: Diff,
}

/// `POST /v1/library/workflows/{id}/restore`: the old revision becomes the new head.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    pub revision: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /v1/library/workflows/{id}/move`: rename or move.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveWorkflowRequest {
    pub path: String,
}

/// A template's release state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateState {
    /// Seen by editors and publishers; runs only when pinned.
    Draft,
    Published,
    /// Still runs for pinned users, with a warning; never `@latest`.
    Deprecated,
}

/// A param a template's user may set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExposedParam {
    /// `node.param`.
    pub key: String,
    pub label: String,
    /// The param's kind as `switchyard nodes` names it (`int`, `float`, `text`, `bool`, `choice`, …).
    #[serde(default)]
    pub kind: String,
    /// Its range, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// A choice's options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// The value the template runs with when the user sets none.
    #[serde(default)]
    pub default: Value,
}

/// A local model a template needs, with its manifest's hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelNeed {
    pub node: String,
    pub model: String,
    /// The blake3 of the model's manifest, where the publisher's server has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_hash: Option<String>,
}

/// What a machine needs to run a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Needs {
    pub models: Vec<ModelNeed>,
    /// Partner capabilities (`text_to_image`, …).
    pub capabilities: Vec<String>,
}

/// A released template.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TemplateView {
    /// `team/name@version`.
    pub reference: String,
    pub name: String,
    pub version: i64,
    pub workflow: String,
    pub revision: String,
    pub description: String,
    pub has_preview: bool,
    pub exposed: Vec<ExposedParam>,
    pub needs: Needs,
    pub state: TemplateState,
    pub published_by: String,
    pub published_at_ms: i64,
}

/// The team's templates.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateView>,
}

/// One param to expose, as a publisher names it: the rest comes from the node's spec and
/// the revision's value.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposeRequest {
    pub key: String,
    #[serde(default)]
    pub label: Option<String>,
    /// A narrower range than the param's own.
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// `POST /v1/library/templates`: release a workflow revision as the next version of `name`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub name: String,
    /// The workflow's id.
    pub workflow: String,
    /// A revision hash (or a prefix of 8+); the head when absent.
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub description: String,
    /// A PNG preview, base64.
    #[serde(default)]
    pub preview_png_base64: Option<String>,
    #[serde(default)]
    pub exposed: Vec<ExposeRequest>,
    /// Published unless `draft`.
    #[serde(default)]
    pub state: Option<TemplateState>,
}

/// `POST /v1/library/templates/{name}/{version}/state`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateStateRequest {
    pub state: TemplateState,
}
