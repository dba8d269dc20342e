//! `/ws?clientId=`: ComfyUI's socket. The tenant's run events, translated into ComfyUI's
//! messages for the prompts this client posted (or that named no client): `status`,
//! `execution_start`, `execution_cached`, `executing` (`node: null` at the end), `progress`,
//! `executed`, `execution_success`, `execution_error` and `execution_interrupted`; previews
//! as binary frames (type 1, or type 4 with metadata once the client announces
//! `supports_preview_metadata`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_engine::EventKind;
use tokio::sync::{OwnedSemaphorePermit, broadcast};

use super::super::ApiError;
use super::record::Record;
use crate::App;
use crate::events::{Detail, Published};
use crate::keys::Caller;
use crate::store::{PromptRow, now_ms};

/// The largest message a client may send (its feature flags).
const CLIENT_MESSAGE_MAX: usize = 64 * 1024;
/// How long one send may take before a slow client is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Prompts a socket remembers (a run it has not seen is looked up once).
const KNOWN_MAX: usize = 4_096;
/// The largest upload the frontend is told it may send.
const UPLOAD_MAX_BYTES: usize = super::super::files::UPLOAD_MAX_BYTES;

#[derive(Debug, Deserialize)]
pub(crate) struct WsQuery {
    #[serde(rename = "clientId")]
    client_id: Option<String>,
}

/// `GET /ws?clientId=` upgrades to ComfyUI's socket.
pub(crate) async fn ws(
    State(app): State<Arc<App>>,
    caller: Caller,
    q: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let permit = Arc::clone(&app.event_clients).try_acquire_owned().map_err(|_| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too-many-clients", "no room for another socket")
    })?;
    let sid = q
        .ok()
        .and_then(|Query(q)| q.client_id)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let upgrade = upgrade.max_message_size(CLIENT_MESSAGE_MAX).max_write_buffer_size(8 * 1024 * 1024);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let mut client = Client { app, tenant: caller.tenant, sid, socket, metadata: false, known: HashMap::new() };
        client.serve(permit).await;
    }))
}

/// One socket's state.
struct Client {
    app: Arc<App>,
    tenant: String,
    sid: String,
    socket: WebSocket,
    /// The client asked for previews with metadata (type 4).
    metadata: bool,
    /// Run id -> its prompt, if it came from `/prompt` (`None`: another run of the tenant's).
    known: HashMap<String, Option<Arc<Known>>>,
}

/// A prompt a socket met, its origin map read once (node events come by the thousand).
struct Known {
    prompt: PromptRow,
    /// Switchyard node id -> ComfyUI node id.
    origin: HashMap<String, String>,
}

impl Known {
    /// The ComfyUI node a Switchyard node came from (itself if unknown).
    fn comfy_id(&self, node: &str) -> String {
        self.origin.get(node).cloned().unwrap_or_else(|| node.to_string())
    }
}

/// The client's announcement of what it supports.
#[derive(Debug, Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

impl Client {
    async fn serve(&mut self, _permit: OwnedSemaphorePermit) {
        let mut live = self.app.hub.subscribe(None).live;
        let mut previews = self.app.hub.subscribe_previews();
        let mut flags = super::neutral::features();
        flags["max_upload_size"] = json!(UPLOAD_MAX_BYTES);
        let mut open = self.status().await && self.send("feature_flags", flags).await;
        while open {
            open = tokio::select! {
                next = live.recv() => match next {
                    Ok(event) if event.tenant == self.tenant => self.event(&event).await,
                    Ok(_) => true,
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => false,
                },
                next = previews.recv() => match next {
                    Ok(preview) if preview.tenant == self.tenant => self.preview(&preview).await,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => false,
                },
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        self.incoming(&text);
                        true
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => false,
                    Some(Ok(_)) => true,
                },
            };
        }
        let _ = self.socket.send(Message::Close(None)).await;
    }

    fn incoming(&mut self, text: &str) {
        let Ok(msg) = serde_json::from_str::<Incoming>(text) else { return };
        if msg.kind == "feature_flags" {
            self.metadata = msg.data.get("supports_preview_metadata").and_then(Value::as_bool).unwrap_or(false);
        }
    }

    async fn send(&mut self, kind: &str, data: Value) -> bool {
        let text = json!({ "type": kind, "data": data }).to_string();
        matches!(tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Text(text.into()))).await, Ok(Ok(())))
    }

    /// The tenant's queue, as `status` says it.
    async fn status(&mut self) -> bool {
        let remaining = self.app.store.unfinished(&self.tenant).await.unwrap_or(0);
        let data = json!({ "status": { "exec_info": { "queue_remaining": remaining } }, "sid": self.sid });
        self.send("status", data).await
    }

    /// The prompt that made `run`, if it came from `/prompt`, and is for this client.
    async fn prompt_of(&mut self, run: &str) -> Option<Arc<Known>> {
        if !self.known.contains_key(run) {
            if self.known.len() >= KNOWN_MAX {
                self.known.clear();
            }
            let found = self.app.store.prompt_of_run(&self.tenant, run).await.ok().flatten().map(|prompt| {
                let origin = serde_json::from_str(&prompt.origin).unwrap_or_default();
                Arc::new(Known { prompt, origin })
            });
            self.known.insert(run.to_string(), found);
        }
        let known = self.known.get(run).cloned().flatten()?;
        known.prompt.client_id.as_ref().is_none_or(|c| *c == self.sid).then_some(known)
    }

    async fn event(&mut self, event: &Published) -> bool {
        match &event.detail {
            Detail::State(state) => self.state(&event.run, state).await,
            Detail::Node(node) => {
                let Some(known) = self.prompt_of(&event.run).await else { return true };
                let id = known.comfy_id(node.node.as_str());
                let pid = &known.prompt.prompt_id;
                match &node.kind {
                    EventKind::Started => {
                        self.send("executing", json!({ "node": id, "display_node": id, "prompt_id": pid })).await
                    }
                    EventKind::Cached => {
                        let data = json!({ "nodes": [id], "prompt_id": pid, "timestamp": event.at_ms });
                        self.send("execution_cached", data).await
                    }
                    EventKind::Progress { value, max } => {
                        let data = json!({ "value": value, "max": max, "prompt_id": pid, "node": id });
                        self.send("progress", data).await
                    }
                    _ => true,
                }
            }
            _ => true,
        }
    }

    /// A run's state changed: its start or its end, and the tenant's queue with it.
    async fn state(&mut self, run: &str, state: &str) -> bool {
        let Some(known) = self.prompt_of(run).await else { return self.status().await };
        let pid = known.prompt.prompt_id.clone();
        let sent = match state {
            "running" => self.send("execution_start", json!({ "prompt_id": pid, "timestamp": now_ms() })).await,
            "succeeded" | "failed" | "cancelled" => self.ended(&pid).await,
            _ => true,
        };
        sent && self.status().await
    }

    /// The end of a prompt: each output node's files, how it ended, then `executing: null`.
    async fn ended(&mut self, pid: &str) -> bool {
        let Ok(Some((p, r))) = self.app.store.prompt(&self.tenant, pid).await else { return true };
        let record = Record::new(p, r);
        for (node, output) in record.outputs(&self.app) {
            let data = json!({ "node": node, "display_node": node, "output": output, "prompt_id": pid });
            if !self.send("executed", data).await {
                return false;
            }
        }
        let now = record.run.finished_at_ms.unwrap_or_else(now_ms);
        let sent = match record.run.state.as_str() {
            "succeeded" => self.send("execution_success", json!({ "prompt_id": pid, "timestamp": now })).await,
            "cancelled" => {
                let failure = record.failure();
                let data = json!({
                    "prompt_id": pid,
                    "node_id": failure.as_ref().map(|f| f.node.clone()),
                    "node_type": failure.as_ref().map(|f| f.class_type.clone()),
                    "executed": record.executed(),
                    "timestamp": now,
                });
                self.send("execution_interrupted", data).await
            }
            _ => match record.failure() {
                Some(failure) => self.send("execution_error", record.error_data(&failure)).await,
                None => true,
            },
        };
        sent && self.send("executing", json!({ "node": null, "display_node": null, "prompt_id": pid })).await
    }

    /// A preview as a binary frame: event type 1 (`[1][2 = PNG][bytes]`), or type 4 with
    /// its metadata for clients that asked.
    async fn preview(&mut self, preview: &Published) -> bool {
        let Detail::Preview { node, png } = &preview.detail else { return true };
        let Some(known) = self.prompt_of(&preview.run).await else { return true };
        let id = known.comfy_id(node);
        let frame = match self.metadata {
            true => {
                let meta = json!({
                    "node_id": id, "display_node_id": id, "parent_node_id": null, "real_node_id": id,
                    "prompt_id": known.prompt.prompt_id, "image_type": "image/png",
                })
                .to_string();
                let mut frame = Vec::with_capacity(8 + meta.len() + png.len());
                frame.extend_from_slice(&4u32.to_be_bytes());
                frame.extend_from_slice(&(meta.len() as u32).to_be_bytes());
                frame.extend_from_slice(meta.as_bytes());
                frame.extend_from_slice(png);
                frame
            }
            false => {
                let mut frame = Vec::with_capacity(8 + png.len());
                frame.extend_from_slice(&1u32.to_be_bytes());
                frame.extend_from_slice(&2u32.to_be_bytes());
                frame.extend_from_slice(png);
                frame
            }
        };
        matches!(tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Binary(frame.into()))).await, Ok(Ok(())))
    }
}
