//! `POST /prompt`: a ComfyUI API-format prompt, translated by the importer, validated, quoted
//! and queued as a run of the caller's tenant, billed like any other. `GET /prompt`: the
//! tenant's queue length.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchyard_engine::Diagnostics;
use switchyard_session::comfy::{ApiPrompt, ImportError, Imported};

use super::super::runs::{enqueue, session_refusal};
use super::super::{ApiError, require};
use crate::App;
use crate::events::Detail;
use crate::keys::{Caller, Permission, check_name};
use crate::lanes::Placing;
use crate::protocol::SubmitRequest;
use crate::queue::{MAX_NODES, Refusal, prepare, wallet_of};
use crate::store::PromptRow;

/// The longest client or prompt id.
const ID_MAX_BYTES: usize = 128;

/// A `/prompt` body, as ComfyUI's clients send it (unknown fields are ignored, as ComfyUI
/// ignores them).
#[derive(Debug, Deserialize)]
pub struct PromptBody {
    /// The API-format prompt.
    pub prompt: Value,
    /// The socket client to send this prompt's events to (all the tenant's, without one).
    #[serde(default)]
    pub client_id: Option<String>,
    /// What the client keeps with the prompt (ComfyUI's frontend: the UI workflow).
    #[serde(default)]
    pub extra_data: Map<String, Value>,
    /// Run before the tenant's other waiting prompts.
    #[serde(default)]
    pub front: bool,
    /// The client's own id for the prompt (a replay with it returns the first).
    #[serde(default)]
    pub prompt_id: Option<String>,
}

/// Switchyard's own choices, in `extra_data.switchyard`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choices {
    /// The tenant's account to bill; the tenant's only account without it.
    pub account: Option<String>,
    /// The most the run may spend, in credits.
    pub budget: Option<i64>,
    /// The placement policy (default cheapest).
    pub policy: Option<String>,
    /// The team member spending.
    pub member: Option<String>,
}

/// A checked `/prompt` body.
#[derive(Debug)]
pub struct Checked {
    pub prompt: ApiPrompt,
    pub client_id: Option<String>,
    /// `extra_data` without the secrets a client may put there.
    pub extra_data: Map<String, Value>,
    pub choices: Choices,
    pub front: bool,
    pub prompt_id: Option<String>,
}

/// A refusal in ComfyUI's shape: `{error: {type, message, details, extra_info}, node_errors}`.
#[derive(Debug)]
pub struct PromptError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub details: String,
    pub node_errors: BTreeMap<String, NodeErrors>,
}

/// What is wrong with one node.
#[derive(Debug, Serialize)]
pub struct NodeErrors {
    pub errors: Vec<NodeError>,
    pub dependent_outputs: Vec<String>,
    pub class_type: String,
}

/// One problem of one node.
#[derive(Debug, Serialize)]
pub struct NodeError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub details: String,
    pub extra_info: Value,
}

impl PromptError {
    fn bad(kind: &'static str, message: impl Into<String>, details: impl Into<String>) -> Self {
        let (message, details) = (message.into(), details.into());
        Self { status: StatusCode::BAD_REQUEST, kind, message, details, node_errors: BTreeMap::new() }
    }
}

impl IntoResponse for PromptError {
    fn into_response(self) -> Response {
        let error = json!({ "type": self.kind, "message": self.message, "details": self.details, "extra_info": {} });
        (self.status, Json(json!({ "error": error, "node_errors": self.node_errors }))).into_response()
    }
}

impl From<ApiError> for PromptError {
    fn from(e: ApiError) -> Self {
        let details = e.help.map(String::from).unwrap_or_default();
        Self { status: e.status, kind: e.code, message: e.message, details, node_errors: BTreeMap::new() }
    }
}

/// `extra_data` keys that hold the client's credentials for other services: never kept.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["token", "api_key", "apikey", "secret", "password", "auth"].iter().any(|s| key.contains(s))
}

fn check_id(field: &str, id: &str) -> Result<(), PromptError> {
    let plain = id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if id.is_empty() || id.len() > ID_MAX_BYTES || !plain {
        return Err(PromptError::bad(
            "invalid_prompt",
            format!("{field} must be 1 to {ID_MAX_BYTES} letters, digits, '-' or '_'"),
            format!("{field}: {:?}", id.chars().take(40).collect::<String>()),
        ));
    }
    Ok(())
}

/// Parses and checks a `/prompt` body: everything that can be said of it before the graph
/// is translated. Public for the fuzz targets.
pub fn check_prompt(body: &[u8]) -> Result<Checked, PromptError> {
    let body: PromptBody = serde_json::from_slice(body)
        .map_err(|e| PromptError::bad("invalid_prompt", "the body is not a /prompt request", e.to_string()))?;
    let Value::Object(nodes) = &body.prompt else {
        return Err(PromptError::bad("invalid_prompt", "`prompt` must be an object of nodes by id", ""));
    };
    if nodes.is_empty() || nodes.len() > MAX_NODES {
        return Err(PromptError::bad("prompt_no_outputs", format!("a prompt has 1 to {MAX_NODES} nodes"), ""));
    }
    let prompt = switchyard_session::comfy::api_of(body.prompt)
        .map_err(|e| PromptError::bad("invalid_prompt", "`prompt` is not in ComfyUI's API format", e))?;
    for (field, id) in [("client_id", &body.client_id), ("prompt_id", &body.prompt_id)] {
        if let Some(id) = id {
            check_id(field, id)?;
        }
    }
    let mut extra_data = body.extra_data;
    let choices = match extra_data.remove("switchyard") {
        None => Choices::default(),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            PromptError::bad(
                "invalid_prompt",
                "extra_data.switchyard is not valid",
                format!("{e}; it takes account, budget, policy and member"),
            )
        })?,
    };
    if choices.budget.is_some_and(|b| b < 0) {
        return Err(PromptError::bad("invalid_prompt", "extra_data.switchyard.budget must not be negative", ""));
    }
    for (field, name) in [("account", &choices.account), ("member", &choices.member)] {
        if let Some(name) = name {
            check_name(field, name).map_err(|e| PromptError::bad("invalid_prompt", e, ""))?;
        }
    }
    extra_data.retain(|k, _| !is_secret(k));
    let client_id = body.client_id;
    Ok(Checked { prompt, client_id, extra_data, choices, front: body.front, prompt_id: body.prompt_id })
}

/// The node errors of an import that failed, by ComfyUI node id.
fn import_failed(e: ImportError) -> PromptError {
    let error = |kind: &str, message: String| NodeError {
        kind: kind.into(),
        message: message.clone(),
        details: message,
        extra_info: json!({}),
    };
    let node = |class_type: String, errors| NodeErrors { errors, dependent_outputs: Vec::new(), class_type };
    match e {
        ImportError::Unmapped(list) => {
            let names: Vec<String> = list.iter().map(|u| format!("{} (#{})", u.class_type, u.id)).collect();
            let mut out = PromptError::bad(
                "missing_node_type",
                format!("this server has no equivalent of {}", names.join(", ")),
                "GET /object_info lists the node types it runs",
            );
            for u in list {
                let nearest = u.nearest.map(|n| format!("; the nearest is {n}")).unwrap_or_default();
                let message = format!("{} has no Switchyard equivalent{nearest}", u.class_type);
                out.node_errors.insert(u.id, node(u.class_type, vec![error("missing_node_type", message)]));
            }
            out
        }
        ImportError::Invalid(list) => {
            let mut out = PromptError::bad("prompt_outputs_failed_validation", "Prompt outputs failed validation", "");
            for p in list {
                let entry = out.node_errors.entry(p.id).or_insert_with(|| node(p.class_type, Vec::new()));
                entry.errors.push(error("value_not_valid", p.message));
            }
            out
        }
        ImportError::Format(m) => PromptError::bad("invalid_prompt", "the prompt cannot be read", m),
    }
}

/// Validation diagnostics of the translated workflow, by the ComfyUI node they came from.
fn invalid(diags: &Diagnostics, imported: &Imported, prompt: &ApiPrompt) -> PromptError {
    let mut out = PromptError::bad("prompt_outputs_failed_validation", "Prompt outputs failed validation", "");
    let mut whole = Vec::new();
    for d in &diags.0 {
        let comfy = d.node.as_ref().map(|n| imported.origin.get(n).cloned().unwrap_or_else(|| n.clone()));
        let Some(id) = comfy else {
            whole.push(d.message.clone());
            continue;
        };
        let class_type = prompt.get(&id).map(|n| n.class_type.clone()).unwrap_or_default();
        let entry = out.node_errors.entry(id).or_insert_with(|| NodeErrors {
            errors: Vec::new(),
            dependent_outputs: Vec::new(),
            class_type,
        });
        let input = d.field.as_deref().and_then(|f| f.strip_prefix("params.")).unwrap_or_default();
        let details = [Some(d.message.as_str()), d.help.as_deref()].into_iter().flatten().collect::<Vec<_>>();
        entry.errors.push(NodeError {
            kind: d.code.to_string(),
            message: d.message.clone(),
            details: details.join("; "),
            extra_info: json!({ "input_name": input }),
        });
    }
    out.details = whole.join("; ");
    out
}

/// The account a prompt bills: the one it names, else the tenant's only one. A tenant with
/// several must name one for a prompt that spends.
async fn account_of(
    app: &App,
    caller: &Caller,
    choices: &Choices,
    spends: bool,
) -> Result<Option<String>, PromptError> {
    if let Some(account) = &choices.account {
        return Ok(Some(account.clone()));
    }
    let Ok(ledger) = app.ledger().await else { return Ok(None) };
    let prefix = wallet_of(&caller.tenant, "");
    let wallets = ledger.wallets(&prefix).await.map_err(|e| PromptError::from(session_refusal(e.into())))?;
    match wallets.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one[prefix.len()..].to_string())),
        _ if !spends => Ok(None),
        many => {
            let names: Vec<&str> = many.iter().map(|w| &w[prefix.len()..]).collect();
            Err(PromptError::bad(
                "account_required",
                format!("this tenant has {} accounts ({}); say which one pays", names.len(), names.join(", ")),
                "put {\"switchyard\": {\"account\": NAME}} in the prompt's extra_data",
            ))
        }
    }
}

/// `POST /prompt`.
pub(crate) async fn post(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Response, PromptError> {
    require(&caller, Permission::Run)?;
    let checked = check_prompt(&body)?;
    if let Some(id) = &checked.prompt_id
        && let Some((first, _)) = app.store.prompt(&caller.tenant, id).await.map_err(ApiError::from)?
    {
        return Ok(accepted(&first));
    }
    let imported = switchyard_session::comfy::import_prompt(&checked.prompt, "comfy-prompt", &app.registry)
        .map_err(import_failed)?;
    let outputs = super::record::output_nodes(&app.registry, &imported.workflow, &imported.origin);
    if outputs.is_empty() {
        return Err(PromptError::bad(
            "prompt_no_outputs",
            "Prompt has no outputs",
            "add a SaveImage or PreviewImage node",
        ));
    }
    let run = uuid::Uuid::now_v7().to_string();
    let workflow =
        serde_json::to_value(&imported.workflow).map_err(|e| PromptError::bad("invalid_prompt", e.to_string(), ""))?;
    let placing = Placing {
        policy: checked.choices.policy.clone().unwrap_or_else(|| "cheapest".into()),
        routes: Vec::new(),
        price_at_s: None,
    };
    let scratch = app.data.join("runs").join(&run);
    let plans = match prepare(&app, &caller.tenant, &workflow.to_string(), &[], &placing, true, scratch) {
        Ok((_, plans)) => plans,
        Err(Refusal::Invalid(diags)) => return Err(invalid(&diags, &imported, &checked.prompt)),
        Err(Refusal::Session(e)) => return Err(session_refusal(e).into()),
    };
    let account = account_of(&app, &caller, &checked.choices, switchyard_session::plan::spends(&plans)).await?;
    let row = PromptRow {
        run: run.clone(),
        tenant: caller.tenant.clone(),
        prompt_id: checked.prompt_id.clone().unwrap_or_else(|| run.clone()),
        number: 0,
        client_id: checked.client_id.clone(),
        prompt: serde_json::to_string(&checked.prompt).unwrap_or_default(),
        extra_data: Value::Object(checked.extra_data.clone()).to_string(),
        origin: serde_json::to_string(&imported.origin).unwrap_or_default(),
    };
    let Some(number) = app.store.insert_prompt(&row).await.map_err(ApiError::from)? else {
        // The same prompt id, posted twice at once: the first made it.
        let first = app.store.prompt(&caller.tenant, &row.prompt_id).await.map_err(ApiError::from)?;
        return first
            .map(|(first, _)| accepted(&first))
            .ok_or_else(|| PromptError::bad("invalid_prompt", "prompt_id is taken", ""));
    };
    let req = SubmitRequest {
        workflow,
        template: None,
        set: Vec::new(),
        policy: Some(placing.policy),
        budget: checked.choices.budget,
        account,
        member: checked.choices.member.clone(),
        priority: 0,
        max_wait_s: None,
        on_wait: Some("wait".into()),
        when: None,
        routes: Vec::new(),
    };
    let hash = blake3::hash(&body).to_hex().to_string();
    if let Err(e) = enqueue(&app, &caller, req, run.clone(), None, hash).await {
        let _ = app.store.drop_prompt(&caller.tenant, &run).await;
        return Err(e.into());
    }
    // The tenant's sockets hear of the longer queue.
    let queued = json!({ "state": "queued" });
    app.hub.publish_typed(&caller.tenant, &run, "run", queued, Detail::State("queued".into()));
    if checked.front {
        app.store.move_run(&caller.tenant, &run, true).await.map_err(ApiError::from)?;
    }
    Ok(accepted(&PromptRow { number, ..row }))
}

/// The reply to an accepted prompt.
fn accepted(p: &PromptRow) -> Response {
    Json(json!({ "prompt_id": p.prompt_id, "number": p.number, "node_errors": {} })).into_response()
}

/// `GET /prompt`: `{exec_info: {queue_remaining}}`, the tenant's waiting and running runs.
pub(crate) async fn queue_remaining(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let remaining = app.store.unfinished(&caller.tenant).await?;
    Ok(Json(json!({ "exec_info": { "queue_remaining": remaining } })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_credentials_in_extra_data_are_never_kept() {
        let body = json!({
            "prompt": {"1": {"class_type": "EmptyImage", "inputs": {}}},
            "extra_data": {"auth_token_comfy_org": "t", "api_key_comfy_org": "k", "extra_pnginfo": {"workflow": {}}},
        });
        let checked = check_prompt(body.to_string().as_bytes()).expect("checks");
        assert_eq!(checked.extra_data.keys().collect::<Vec<_>>(), ["extra_pnginfo"]);
    }

    #[test]
    fn bad_bodies_are_refused_with_comfyuis_error_types() {
        let cases = [
            (json!([]), "invalid_prompt"),
            (json!({"prompt": []}), "invalid_prompt"),
            (json!({"prompt": {}}), "prompt_no_outputs"),
            (json!({"prompt": {"1": {"inputs": {}}}}), "invalid_prompt"),
            (json!({"prompt": {"1": {"class_type": "X"}}, "client_id": "a b"}), "invalid_prompt"),
            (json!({"prompt": {"1": {"class_type": "X"}}, "prompt_id": ""}), "invalid_prompt"),
            (
                json!({"prompt": {"1": {"class_type": "X"}}, "extra_data": {"switchyard": {"acct": "a"}}}),
                "invalid_prompt",
            ),
            (
                json!({"prompt": {"1": {"class_type": "X"}}, "extra_data": {"switchyard": {"budget": -1}}}),
                "invalid_prompt",
            ),
            (
                json!({"prompt": {"1": {"class_type": "X"}}, "extra_data": {"switchyard": {"account": "../x"}}}),
                "invalid_prompt",
            ),
        ];
        for (body, kind) in cases {
            let e = check_prompt(body.to_string().as_bytes()).expect_err(&body.to_string());
            assert_eq!(e.kind, kind, "{body}");
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
    }
}
