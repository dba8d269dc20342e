//! `/v1/library/templates`: a workflow revision released as a template's next version, with
//! the params its users may set and what a machine needs to run it; and the runs that name
//! one (`team/name@3`, `@latest`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use switchyard_engine::ResourceClass;
use switchyard_engine::format::{WorkflowFile, parse_override};
use switchyard_engine::{ParamKind, ParamValue};

use super::author;
use super::workflows::{file_of, live, revision};
use crate::App;
use crate::api::runs::parse;
use crate::api::{ApiError, require};
use crate::keys::{Caller, Permission, check_name};
use crate::library::{
    ExposeRequest, ExposedParam, ModelNeed, Needs, PublishRequest, TemplateList, TemplateState, TemplateStateRequest,
    TemplateView,
};
use crate::protocol::{FarmSubmitRequest, SubmitRequest};
use crate::store::{TemplateRow, now_ms};

/// The largest preview image.
const PREVIEW_MAX_BYTES: usize = 2 * 1024 * 1024;
/// The most params a template exposes.
const EXPOSED_MAX: usize = 64;
/// The most template versions one listing shows.
const LIST_MAX: i64 = 10_000;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn state_name(s: TemplateState) -> &'static str {
    match s {
        TemplateState::Draft => "draft",
        TemplateState::Published => "published",
        TemplateState::Deprecated => "deprecated",
    }
}

fn state_of(text: &str) -> TemplateState {
    match text {
        "draft" => TemplateState::Draft,
        "deprecated" => TemplateState::Deprecated,
        _ => TemplateState::Published,
    }
}

fn view(tenant: &str, t: &TemplateRow) -> TemplateView {
    TemplateView {
        reference: format!("{tenant}/{}@{}", t.name, t.version),
        name: t.name.clone(),
        version: t.version,
        workflow: t.workflow.clone(),
        revision: t.revision.clone(),
        description: t.description.clone(),
        has_preview: t.preview.is_some(),
        exposed: serde_json::from_str(&t.exposed).unwrap_or_default(),
        needs: serde_json::from_str(&t.needs).unwrap_or_default(),
        state: state_of(&t.state),
        published_by: t.published_by.clone(),
        published_at_ms: t.published_at_ms,
    }
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request("bad-template", message)
}

/// One exposed param: its kind, range and options from the node's spec, its default from
/// the revision (else the spec), a narrower range where the publisher asked.
fn exposed(app: &App, file: &WorkflowFile, e: &ExposeRequest) -> Result<ExposedParam, ApiError> {
    let (node, param) = e.key.split_once('.').ok_or_else(|| bad(format!("expose {:?}: write node.param", e.key)))?;
    let entry =
        file.nodes.get(node).ok_or_else(|| bad(format!("expose {:?}: the workflow has no node {node:?}", e.key)))?;
    let spec = app.registry.get(&entry.type_name).map(|n| n.spec().clone());
    let p = spec
        .as_ref()
        .and_then(|s| s.param_spec(param).cloned())
        .ok_or_else(|| bad(format!("expose {:?}: {} has no param {param:?}", e.key, entry.type_name)))?;
    let (mut min, mut max) = match p.kind {
        ParamKind::Int { min, max } => (Some(min as f64), Some(max as f64)),
        ParamKind::Float { min, max } => (Some(min), Some(max)),
        ParamKind::Seed => (Some(0.0), Some(ParamKind::SEED_MAX as f64)),
        _ => (None, None),
    };
    for (asked, own, is_min) in [(e.min, min, true), (e.max, max, false)] {
        let Some(asked) = asked else { continue };
        let Some(own) = own else {
            return Err(bad(format!("expose {:?}: a {} param has no range", e.key, kind_name(&p.kind))));
        };
        let inside = if is_min { asked >= own } else { asked <= own };
        if !inside || !asked.is_finite() {
            return Err(bad(format!(
                "expose {:?}: {asked} is outside the param's own range ({})",
                e.key,
                p.kind.describe()
            )));
        }
        if is_min { min = Some(asked) } else { max = Some(asked) }
    }
    let options = match p.kind {
        ParamKind::Choice { options } => options.iter().map(|o| o.to_string()).collect(),
        _ => Vec::new(),
    };
    let default = entry.params.get(param).cloned().or_else(|| p.default.as_ref().map(json_of)).unwrap_or(Value::Null);
    let label = e.label.clone().unwrap_or_else(|| p.description.to_string());
    Ok(ExposedParam { key: e.key.clone(), label, kind: kind_name(&p.kind).into(), min, max, options, default })
}

fn kind_name(k: &ParamKind) -> &'static str {
    match k {
        ParamKind::Int { .. } => "int",
        ParamKind::Seed => "seed",
        ParamKind::Float { .. } => "float",
        ParamKind::Bool => "bool",
        ParamKind::Text { .. } => "text",
        ParamKind::Choice { .. } => "choice",
        ParamKind::Path { .. } => "path",
    }
}

fn json_of(v: &ParamValue) -> Value {
    match v {
        ParamValue::Int(i) => Value::from(*i),
        ParamValue::Float(f) => Value::from(*f),
        ParamValue::Bool(b) => Value::from(*b),
        ParamValue::Text(t) => Value::from(t.as_ref()),
    }
}

/// The local models (with their files' SHA-256 where this server has the manifest) and the
/// partner capabilities a workflow needs.
fn needs(app: &App, file: &WorkflowFile) -> Needs {
    let mut out = Needs::default();
    for (id, node) in &file.nodes {
        let Some(spec) = app.registry.get(&node.type_name).map(|n| n.spec().clone()) else { continue };
        if spec.resource == ResourceClass::Cloud {
            let capability = node.type_name.strip_prefix("cloud.").unwrap_or(&node.type_name).to_string();
            if !out.capabilities.contains(&capability) {
                out.capabilities.push(capability);
            }
        }
        if let Some(model) =
            node.params.get("model").and_then(Value::as_str).filter(|_| node.type_name.starts_with("onnx."))
        {
            let manifest = switchyard_nodes::onnx::manifest::load(&app.onnx.manifest_path(model)).ok();
            out.models.push(ModelNeed {
                node: id.clone(),
                model: model.to_string(),
                manifest_hash: manifest.map(|m| m.sha256),
            });
        }
    }
    out
}

fn preview_of(req: &PublishRequest) -> Result<Option<String>, ApiError> {
    use base64::Engine as _;
    let Some(text) = &req.preview_png_base64 else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| ApiError::bad_request("bad-preview", format!("preview_png_base64: {e}")))?;
    if bytes.len() > PREVIEW_MAX_BYTES || !bytes.starts_with(PNG_SIGNATURE) {
        return Err(ApiError::bad_request(
            "bad-preview",
            format!("the preview must be a PNG of at most {PREVIEW_MAX_BYTES} bytes"),
        ));
    }
    Ok(Some(text.clone()))
}

/// `POST /v1/library/templates`.
pub(crate) async fn publish(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<TemplateView>), ApiError> {
    require(&caller, Permission::Publish)?;
    let req: PublishRequest = parse(&body)?;
    check_name("template", &req.name).map_err(bad)?;
    if req.exposed.len() > EXPOSED_MAX || req.description.len() > 4096 {
        return Err(bad(format!(
            "a template exposes at most {EXPOSED_MAX} params and has a description of at most 4096 bytes"
        )));
    }
    let preview = preview_of(&req)?;
    let w = live(&app, &caller, &req.workflow).await?;
    let r = revision(&app, &caller, &w.id, req.revision.as_deref().unwrap_or(&w.head)).await?;
    let file = file_of(&r)?;
    let exposed = req.exposed.iter().map(|e| exposed(&app, &file, e)).collect::<Result<Vec<_>, _>>()?;
    if let Some(dup) = exposed.iter().enumerate().find(|(i, e)| exposed[..*i].iter().any(|x| x.key == e.key)) {
        return Err(bad(format!("{} is exposed twice", dup.1.key)));
    }
    let state = req.state.unwrap_or(TemplateState::Published);
    if state == TemplateState::Deprecated {
        return Err(bad("a new version is published or a draft, not deprecated".into()));
    }
    let mut row = TemplateRow {
        name: req.name,
        version: 0,
        workflow: w.id.clone(),
        revision: r.hash.clone(),
        description: req.description,
        preview,
        exposed: serde_json::to_string(&exposed).unwrap_or_else(|_| "[]".into()),
        needs: serde_json::to_string(&needs(&app, &file)).unwrap_or_else(|_| "{}".into()),
        state: state_name(state).into(),
        published_by: author(&caller),
        published_at_ms: now_ms(),
    };
    row.version = app.store.library_publish(&caller.tenant, &row).await?;
    tracing::info!(tenant = %caller.tenant, template = %row.name, version = row.version, "template released");
    Ok((StatusCode::CREATED, Json(view(&caller.tenant, &row))))
}

/// `GET /v1/library/templates`.
pub(crate) async fn list(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<TemplateList>, ApiError> {
    require(&caller, Permission::Read)?;
    let rows = app.store.library_templates(&caller.tenant, LIST_MAX).await?;
    Ok(Json(TemplateList { templates: rows.iter().map(|t| view(&caller.tenant, t)).collect() }))
}

fn version_of(text: &str) -> Result<Option<i64>, ApiError> {
    match text {
        "latest" => Ok(None),
        v => v
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| bad(format!("version {v:?}: a number from 1, or latest"))),
    }
}

async fn find(app: &App, tenant: &str, name: &str, version: &str) -> Result<TemplateRow, ApiError> {
    let v = version_of(version)?;
    app.store
        .library_template(tenant, name, v)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no template {name}@{version} in this team's library")))
}

/// `GET /v1/library/templates/{name}/{version}`.
pub(crate) async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<TemplateView>, ApiError> {
    require(&caller, Permission::Read)?;
    Ok(Json(view(&caller.tenant, &find(&app, &caller.tenant, &name, &version).await?)))
}

/// `GET /v1/library/templates/{name}/{version}/preview`.
pub(crate) async fn preview(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    use base64::Engine as _;
    require(&caller, Permission::Read)?;
    let t = find(&app, &caller.tenant, &name, &version).await?;
    let png = t
        .preview
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p.as_bytes()).ok())
        .ok_or_else(|| ApiError::not_found(format!("{name}@{version} has no preview")))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// `POST /v1/library/templates/{name}/{version}/state`.
pub(crate) async fn set_state(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<TemplateView>, ApiError> {
    require(&caller, Permission::Publish)?;
    let req: TemplateStateRequest = parse(&body)?;
    let t = find(&app, &caller.tenant, &name, &version).await?;
    app.store.library_template_state(&caller.tenant, &t.name, t.version, state_name(req.state)).await?;
    Ok(Json(view(&caller.tenant, &find(&app, &caller.tenant, &name, &t.version.to_string()).await?)))
}

/// Which template a run ran: its reference and exact revision, and what its submitter
/// should know.
pub(crate) struct TemplateRun {
    pub reference: String,
    pub revision: String,
    pub warnings: Vec<String>,
}

/// `team/name@version` (or `@latest`).
fn reference_of(text: &str) -> Result<(&str, &str, &str), ApiError> {
    let wrong = || {
        ApiError::bad_request("bad-template", format!("template {text:?} is not team/name@version"))
            .help("for example acme/lookdev-plate@3, or acme/lookdev-plate@latest")
    };
    let (team, rest) = text.split_once('/').ok_or_else(wrong)?;
    let (name, version) = rest.split_once('@').ok_or_else(wrong)?;
    Ok((team, name, version))
}

/// For a submission naming a template: its workflow (the exact revision released), with
/// `set` checked to touch only the params it exposes, within their ranges.
pub(crate) async fn resolve_for_run(
    app: &App,
    caller: &Caller,
    req: &mut SubmitRequest,
) -> Result<Option<TemplateRun>, ApiError> {
    resolve(app, caller, req.template.as_deref(), &mut req.workflow, &req.set).await
}

/// For a farm run naming a template: its workflow, with `set` checked likewise (the frame
/// binding is the farm's, not a user's setting), and the template and revision kept in the
/// workflow's layout (`ui.library`), which the farm run stores.
pub(crate) async fn resolve_for_farm(app: &App, caller: &Caller, req: &mut FarmSubmitRequest) -> Result<(), ApiError> {
    let Some(t) = resolve(app, caller, req.template.as_deref(), &mut req.workflow, &req.set).await? else {
        return Ok(());
    };
    if let Some(ui) = req.workflow.as_object_mut().map(|w| w.entry("ui").or_insert_with(|| serde_json::json!({}))) {
        ui["library"] = serde_json::json!({ "template": t.reference, "revision": t.revision });
    }
    Ok(())
}

async fn resolve(
    app: &App,
    caller: &Caller,
    template: Option<&str>,
    workflow: &mut Value,
    set: &[String],
) -> Result<Option<TemplateRun>, ApiError> {
    let Some(text) = template.map(str::to_string) else { return Ok(None) };
    if !workflow.is_null() {
        return Err(ApiError::bad_request("bad-field", "send a workflow or a template, not both"));
    }
    let (team, name, version) = reference_of(&text)?;
    let missing = || ApiError::not_found(format!("no template {text} for this key"));
    if team != caller.tenant {
        return Err(missing());
    }
    let t = app.store.library_template(&caller.tenant, name, version_of(version)?).await?.ok_or_else(missing)?;
    let mut warnings = Vec::new();
    match state_of(&t.state) {
        TemplateState::Deprecated => {
            warnings.push(format!("{team}/{name}@{} is deprecated; move to @latest", t.version))
        }
        TemplateState::Draft => warnings.push(format!("{team}/{name}@{} is a draft", t.version)),
        TemplateState::Published => {}
    }
    let exposed: Vec<ExposedParam> = serde_json::from_str(&t.exposed).unwrap_or_default();
    for raw in set {
        check_set(raw, &exposed)?;
    }
    let r = revision(app, caller, &t.workflow, &t.revision).await?;
    *workflow =
        serde_json::from_str(&r.body).map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    Ok(Some(TemplateRun { reference: format!("{team}/{name}@{}", t.version), revision: t.revision, warnings }))
}

/// A `--set` on a template run: only an exposed param, within its range.
fn check_set(raw: &str, exposed: &[ExposedParam]) -> Result<(), ApiError> {
    let o = parse_override(raw).map_err(|d| ApiError::bad_request("bad-override", d.message))?;
    let key = format!("{}.{}", o.node, o.param);
    let Some(e) = exposed.iter().find(|e| e.key == key) else {
        let keys: Vec<&str> = exposed.iter().map(|e| e.key.as_str()).collect();
        return Err(ApiError::bad_request("not-exposed", format!("the template does not let runs set {key}")).help(
            if keys.is_empty() {
                "it exposes no params".to_string()
            } else {
                format!("it exposes {}", keys.join(", "))
            },
        ));
    };
    if e.min.is_some() || e.max.is_some() {
        let v: f64 = o
            .raw
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request("bad-override", format!("{key} takes a number, not {:?}", o.raw)))?;
        if e.min.is_some_and(|m| v < m) || e.max.is_some_and(|m| v > m) {
            let range = format!(
                "{} to {}",
                e.min.map_or("-".into(), |m| m.to_string()),
                e.max.map_or("-".into(), |m| m.to_string())
            );
            return Err(ApiError::bad_request(
                "out-of-range",
                format!("{key} = {v} is outside the template's range {range}"),
            ));
        }
    }
    Ok(())
}
