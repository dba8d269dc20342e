//! Run and node events for `/v1/events`. Each event gets a sequence id, is held in a bounded
//! ring (the newest `HELD_MAX`), and is broadcast to live subscribers. A subscriber that
//! reconnects with the last id it saw gets every held event after it, then the live ones,
//! with no gap between (both are taken under one lock); if events it missed are no longer
//! held, it is told so. Previews (small PNGs of image outputs) go to subscribers who ask for
//! them, live only: they are never held, and a subscriber that falls behind skips some.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// Events held for reconnecting clients.
const HELD_MAX: usize = 65_536;
/// Events a slow subscriber may fall behind before it is dropped (it reconnects with its
/// last id and loses nothing still held).
const LIVE_MAX: usize = 4_096;
/// Previews a subscriber may fall behind before it skips some (each is a PNG of up to
/// `PREVIEW_SIDE` pixels a side, so at most a few MiB are buffered).
const PREVIEWS_MAX: usize = 64;

/// One event as sent.
#[derive(Debug, Serialize)]
pub(crate) struct Published {
    /// Its sequence id, for `after=` on reconnect (0 for a preview, which is not held).
    #[serde(skip_serializing_if = "is_zero")]
    pub id: u64,
    /// When it happened (unix ms).
    pub at_ms: i64,
    #[serde(skip)]
    pub tenant: String,
    pub run: String,
    /// `run` (the run's state changed), `node` (an engine event) or `preview`.
    pub kind: &'static str,
    pub event: Value,
    /// The same event, typed, for readers that translate it (ComfyUI's socket).
    #[serde(skip)]
    pub detail: Detail,
}

/// What an event says, typed.
#[derive(Debug, Default)]
pub(crate) enum Detail {
    /// Nothing a translation needs (farm task events).
    #[default]
    Opaque,
    /// The run's state is now this (`running`, `succeeded`, …).
    State(String),
    /// An engine event of one node (never a preview: those come as [`Detail::Preview`]).
    Node(switchyard_engine::Event),
    /// A PNG preview of one of a node's image outputs.
    Preview { node: String, png: Arc<[u8]> },
}

struct Held {
    next: u64,
    ring: VecDeque<Arc<Published>>,
}

/// The events of every run on this server.
pub(crate) struct Hub {
    held: Mutex<Held>,
    live: broadcast::Sender<Arc<Published>>,
    previews: broadcast::Sender<Arc<Published>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a new subscriber gets: the held events after its id, whether some it asked for are
/// gone, and the live stream from there on.
pub(crate) struct Subscription {
    pub replay: Vec<Arc<Published>>,
    pub missed: bool,
    pub live: broadcast::Receiver<Arc<Published>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            held: Mutex::new(Held { next: 1, ring: VecDeque::new() }),
            live: broadcast::channel(LIVE_MAX).0,
            previews: broadcast::channel(PREVIEWS_MAX).0,
        }
    }
}

impl Hub {
    pub(crate) fn publish(&self, tenant: &str, run: &str, kind: &'static str, event: Value) {
        self.publish_typed(tenant, run, kind, event, Detail::Opaque);
    }

    /// Publishes an event with its typed form.
    pub(crate) fn publish_typed(&self, tenant: &str, run: &str, kind: &'static str, event: Value, detail: Detail) {
        let Ok(mut held) = self.held.lock() else { return };
        let at_ms = crate::store::now_ms();
        let (tenant, run) = (tenant.into(), run.into());
        let published = Arc::new(Published { id: held.next, at_ms, tenant, run, kind, event, detail });
        held.next += 1;
        if held.ring.len() == HELD_MAX {
            held.ring.pop_front();
        }
        held.ring.push_back(Arc::clone(&published));
        // No subscriber is not an error.
        let _ = self.live.send(published);
    }

    /// Sends a preview to the subscribers who want previews, now (it is not held).
    pub(crate) fn publish_preview(&self, tenant: &str, run: &str, event: Value, detail: Detail) {
        let at_ms = crate::store::now_ms();
        let (tenant, run) = (tenant.into(), run.into());
        let preview = Published { id: 0, at_ms, tenant, run, kind: "preview", event, detail };
        let _ = self.previews.send(Arc::new(preview));
    }

    /// The live previews, from now.
    pub(crate) fn subscribe_previews(&self) -> broadcast::Receiver<Arc<Published>> {
        self.previews.subscribe()
    }

    /// Subscribes from after `after` (or from now).
    pub(crate) fn subscribe(&self, after: Option<u64>) -> Subscription {
        let held = match self.held.lock() {
            Ok(held) => held,
            Err(poisoned) => poisoned.into_inner(),
        };
        let live = self.live.subscribe();
        let Some(after) = after else { return Subscription { replay: Vec::new(), missed: false, live } };
        let oldest = held.ring.front().map_or(held.next, |e| e.id);
        let replay = held.ring.iter().filter(|e| e.id > after).cloned().collect();
        Subscription { replay, missed: after + 1 < oldest, live }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconnect_replays_what_followed_its_last_id() {
        let hub = Hub::default();
        for n in 0..5 {
            hub.publish("acme", "r1", "node", serde_json::json!({ "n": n }));
        }
        let sub = hub.subscribe(Some(2));
        assert_eq!(sub.replay.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(!sub.missed);
        let mut live = sub.live;
        hub.publish("acme", "r1", "run", serde_json::json!({}));
        assert_eq!(live.try_recv().map(|e| e.id).ok(), Some(6), "live events follow the replay without a gap");
        assert!(hub.subscribe(None).replay.is_empty(), "a new subscriber starts from now");
    }
}
