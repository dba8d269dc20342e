//! The typed event stream a run emits: the CLI, the editor and the server all read it.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::ids::NodeId;
use crate::value::Value;

/// One thing that happened to one node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// The batch item this run belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Arc<str>>,
    /// The node.
    pub node: NodeId,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened to a node.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// Waiting for its inputs or a free slot.
    Queued,
    /// Running.
    Started,
    /// Partway through: `value` of `max`.
    Progress {
        /// Work done.
        value: u64,
        /// Work in all.
        max: u64,
    },
    /// Served from the cache.
    Cached,
    /// Done.
    Finished {
        /// Wall time of the run in milliseconds.
        duration_ms: u64,
        /// Files the node wrote. Not serialized: a front end decides whether its readers may
        /// see this machine's paths (the CLI's event stream shows them; a server does not).
        #[serde(skip)]
        files: Vec<std::path::PathBuf>,
    },
    /// Failed, errored or panicked.
    Failed {
        /// Why.
        message: String,
    },
    /// Not run, because an input failed or was skipped.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Not run or stopped, because the run was cancelled.
    Cancelled,
    /// A small picture of one of a node's image outputs, sent after it finished or came from
    /// the cache, to sinks that ask for previews. Its pixels are not serialized: a front end
    /// encodes them as it needs.
    Preview {
        /// The output port.
        port: String,
        /// The picture.
        #[serde(skip)]
        picture: Arc<Picture>,
    },
}

/// An sRGB RGBA picture, such as a preview of an image output.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// Width and height in pixels.
    pub size: [usize; 2],
    /// RGBA bytes, row by row.
    pub rgba: Vec<u8>,
    /// The source image's size.
    pub source_size: [u32; 2],
}

/// Pictures an output value, or `None` for values that have no picture.
pub type PictureFn = dyn Fn(&Value) -> Option<Picture> + Send + Sync;

/// Makes previews of output values for an event sink.
#[derive(Clone)]
pub struct Previewer(pub Arc<PictureFn>);

impl std::fmt::Debug for Previewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Previewer")
    }
}

/// Where events go: a bounded channel, or nowhere.
#[derive(Clone, Debug, Default)]
pub struct EventSink {
    tx: Option<mpsc::Sender<Event>>,
    item: Option<Arc<str>>,
    previewer: Option<Previewer>,
    /// Leave out [`EventKind::Queued`] (the scheduler asks [`EventSink::wants_queued`]): one
    /// per node at the start, which a reader that shows only running and ended nodes would
    /// receive and drop a million times.
    skip_queued: bool,
}

impl EventSink {
    /// Drops every event.
    pub fn none() -> Self {
        Self::default()
    }

    /// Sends events into a bounded channel; state events wait for room, progress events are dropped when full.
    pub fn channel(tx: mpsc::Sender<Event>) -> Self {
        Self { tx: Some(tx), item: None, previewer: None, skip_queued: false }
    }

    /// The same sink, also sent a [`EventKind::Preview`] of each image output `previewer`
    /// pictures.
    pub fn with_previews(mut self, previewer: Previewer) -> Self {
        self.previewer = Some(previewer);
        self
    }

    /// The same sink, never sent [`EventKind::Queued`].
    pub fn without_queued(mut self) -> Self {
        self.skip_queued = true;
        self
    }

    /// Whether this sink is sent [`EventKind::Queued`].
    pub fn wants_queued(&self) -> bool {
        self.tx.is_some() && !self.skip_queued
    }

    /// What makes previews, if this sink wants them.
    pub fn previewer(&self) -> Option<&Previewer> {
        self.previewer.as_ref().filter(|_| self.tx.is_some())
    }

    /// The same sink, labelling events with a batch item.
    pub fn for_item(&self, item: &str) -> Self {
        Self { item: Some(Arc::from(item)), ..self.clone() }
    }

    /// Sends an event, waiting for room in the channel. A closed channel is ignored.
    pub async fn emit(&self, node: &NodeId, kind: EventKind) {
        if let Some(tx) = &self.tx {
            let _closed = tx.send(Event { item: self.item.clone(), node: node.clone(), kind }).await;
        }
    }

    /// Sends an event if there is room; used for progress, which may be dropped.
    pub fn try_emit(&self, node: &NodeId, kind: EventKind) {
        if let Some(tx) = &self.tx {
            let _full_or_closed = tx.try_send(Event { item: self.item.clone(), node: node.clone(), kind });
        }
    }
}
