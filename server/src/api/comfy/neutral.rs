//! The rest of what ComfyUI's clients and frontend ask for: the machine (`/system_stats`),
//! `/free`, and the endpoints that answer with an empty or neutral reply because Switchyard
//! has no such thing (custom-node extensions, embeddings, model folders, a user list). The
//! README lists them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::super::ApiError;
use crate::App;
use crate::keys::Caller;

/// `GET /system_stats`: this server's machine, in ComfyUI's shape.
pub(crate) async fn system_stats(State(app): State<Arc<App>>, _caller: Caller) -> Result<Json<Value>, ApiError> {
    let cap = app.probe.capability(&app).await;
    let (total, free) = cap.as_ref().map_or((0, 0), |c| (c.memory_total_bytes, c.memory_available_bytes));
    let mut devices: Vec<Value> = cap
        .iter()
        .flat_map(|c| c.adapters.iter())
        .enumerate()
        .map(|(index, a)| {
            let vram = a.memory_bytes.unwrap_or(0);
            json!({
                "name": a.name, "type": a.backend.to_lowercase(), "index": index,
                "vram_total": vram, "vram_free": vram, "torch_vram_total": 0, "torch_vram_free": 0,
            })
        })
        .collect();
    if devices.is_empty() {
        devices.push(json!({
            "name": "cpu", "type": "cpu", "index": 0, "vram_total": total, "vram_free": free,
            "torch_vram_total": 0, "torch_vram_free": 0,
        }));
    }
    Ok(Json(json!({
        "system": {
            "os": std::env::consts::OS,
            "ram_total": total,
            "ram_free": free,
            "comfyui_version": format!("switchyard {}", env!("CARGO_PKG_VERSION")),
            "python_version": "",
            "pytorch_version": "",
            "embedded_python": false,
            "argv": [],
            "onnx_runtime": cap.as_ref().and_then(|c| c.onnx.as_ref().map(|o| o.version.clone())),
        },
        "devices": devices,
    })))
}

/// `POST /free`: Switchyard loads models per run and keeps none between runs, so there is
/// nothing to unload.
pub(crate) async fn free(_caller: Caller) -> StatusCode {
    StatusCode::OK
}

/// `GET /users`: one user per key; the tenant's data is the user's.
pub(crate) async fn users(_caller: Caller) -> Json<Value> {
    Json(json!({ "storage": "server", "migrated": true }))
}

/// A fixed reply.
pub(crate) type Reply = fn() -> Value;

/// Endpoints with nothing behind them on Switchyard, and their replies (listed in the README).
pub(crate) const NEUTRAL: [(&str, Reply); 10] = [
    ("/extensions", || json!([])),
    ("/embeddings", || json!([])),
    ("/experiment/models", || json!([])),
    ("/templates/index_logo.json", || json!({})),
    ("/models", || json!([])),
    ("/global_subgraphs", || json!({})),
    ("/workflow_templates", || json!({})),
    ("/internal/folder_paths", || json!({})),
    ("/i18n", || json!({})),
    ("/features", features),
];

/// What the frontend may rely on: previews with metadata; and no sign-in to Comfy's own
/// account before partner nodes run (Switchyard bills them to the key's tenant).
pub(crate) fn features() -> Value {
    json!({ "supports_preview_metadata": true, "partner_run_gate_enabled": false })
}
