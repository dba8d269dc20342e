//! `/v1/events` (WebSocket): the caller's tenant's run and node events, for one run
//! (`?run=ID`) or all of them, from after `?after=ID` when reconnecting. Messages are JSON:
//! `{"id", "run", "kind": "run" | "node", "event"}`; `{"kind": "missed"}` says that events
//! after the given id are no longer held, and `{"kind": "lagged"}` that this client fell too
//! far behind and should reconnect with its last id.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, broadcast};

use super::ApiError;
use crate::App;
use crate::events::Published;
use crate::keys::Caller;

/// The largest message a client may send (it needs to send none).
const CLIENT_MESSAGE_MAX: usize = 4 * 1024;
/// The read buffer of one stream.
const STREAM_BUFFER_BYTES: usize = 4 * 1024;
/// How long one send may take before a slow client is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    run: Option<String>,
    after: Option<u64>,
    /// Also send previews of image outputs (live only).
    #[serde(default)]
    previews: bool,
}

/// `GET /v1/events` upgrades to a WebSocket.
pub(crate) async fn events(
    State(app): State<Arc<App>>,
    caller: Caller,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(super::bad_query)?;
    if let Some(run) = &q.run
        && app.store.run(&caller.tenant, run).await?.is_none()
    {
        return Err(ApiError::not_found(format!("no run {run}")));
    }
    let permit = Arc::clone(&app.event_clients).try_acquire_owned().map_err(|_| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too-many-clients", "no room for another event stream")
    })?;
    let tenant = caller.tenant;
    // Small buffers: a stream carries small JSON messages, and a server holds thousands.
    let ws = ws
        .read_buffer_size(STREAM_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(CLIENT_MESSAGE_MAX);
    Ok(ws.on_upgrade(move |socket| stream(app, tenant, q, socket, permit)))
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

fn text(event: &Published) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// The next preview, skipping what a slow client missed; never, without previews.
async fn next_preview(previews: &mut Option<broadcast::Receiver<Arc<Published>>>) -> Option<Arc<Published>> {
    let Some(rx) = previews else { return std::future::pending().await };
    loop {
        match rx.recv().await {
            Ok(preview) => return Some(preview),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

async fn stream(app: Arc<App>, tenant: String, q: EventsQuery, mut socket: WebSocket, _permit: OwnedSemaphorePermit) {
    app.metrics.ws_clients.fetch_add(1, Ordering::Relaxed);
    let wanted = |e: &Published| e.tenant == tenant && q.run.as_ref().is_none_or(|r| *r == e.run);
    let sub = app.hub.subscribe(q.after);
    let mut open = !sub.missed || send(&mut socket, json!({ "kind": "missed" }).to_string()).await;
    for event in sub.replay.iter().filter(|e| wanted(e)) {
        open = open && send(&mut socket, text(event)).await;
    }
    let mut live = sub.live;
    let mut previews = q.previews.then(|| app.hub.subscribe_previews());
    while open {
        tokio::select! {
            Some(preview) = next_preview(&mut previews) => if wanted(&preview) {
                open = send(&mut socket, text(&preview)).await;
            },
            next = live.recv() => match next {
                Ok(event) if wanted(&event) => open = send(&mut socket, text(&event)).await,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = send(&mut socket, json!({ "kind": "lagged" }).to_string()).await;
                    open = false;
                }
                Err(broadcast::error::RecvError::Closed) => open = false,
            },
            incoming = socket.recv() => open = matches!(incoming, Some(Ok(m)) if !matches!(m, Message::Close(_))),
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    app.metrics.ws_clients.fetch_sub(1, Ordering::Relaxed);
}
