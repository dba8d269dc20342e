//! Progress from the farm as it happens: each task's dispatch and end is announced with
//! PostgreSQL `NOTIFY` in the transaction that makes it (so an event is sent exactly when its
//! change commits), and anyone may `LISTEN` (`switchyard farm watch`, a server's event
//! stream). A payload is a small JSON object, its error cut to a few hundred bytes, far
//! under PostgreSQL's 8,000-byte limit. Previews are too big for a payload: a worker keeps
//! the latest of each node output in `farm_previews` (at most 512 KiB) and announces that.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use switchyard_ledger::SharedTx;

use crate::queue::{Farm, FarmError};

/// The notification channel of task changes.
pub const CHANNEL: &str = "switchyard_farm";
/// The notification channel of previews (the picture itself is in `farm_previews`).
pub const PREVIEWS: &str = "switchyard_farm_previews";

/// The largest preview kept, in bytes of PNG.
pub const PREVIEW_MAX_BYTES: usize = 512 * 1024;

/// The longest error an event carries, in bytes.
const ERROR_MAX_BYTES: usize = 300;

/// One task's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The run.
    pub run: String,
    /// The task's index in the run.
    pub seq: i32,
    /// What it is now: `leased` (a worker took it), `done`, `queued` (it will run again),
    /// `failed` or `cancelled`.
    pub state: String,
    /// The worker that took or held it.
    pub worker: Option<String>,
    /// Why it failed or was taken back (cut short).
    pub error: Option<String>,
}

impl TaskEvent {
    fn payload(&self) -> String {
        let mut event = self.clone();
        if let Some(e) = event.error.as_mut()
            && e.len() > ERROR_MAX_BYTES
        {
            let mut cut = ERROR_MAX_BYTES;
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            e.truncate(cut);
            e.push('…');
        }
        serde_json::to_string(&event).unwrap_or_default()
    }
}

/// Announces `events` within `tx`: they are delivered when it commits, never if it rolls back.
/// One statement for all of them.
pub(crate) async fn announce(tx: &mut SharedTx, events: &[TaskEvent]) -> Result<(), FarmError> {
    if events.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = events.iter().map(TaskEvent::payload).collect();
    sqlx::query("SELECT pg_notify($1, p) FROM unnest(CAST($2 AS TEXT)::text[]) AS p")
        .bind(CHANNEL)
        .bind(crate::dispatch::pg_array(&payloads))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A new preview of a run's node output, to fetch with [`Farm::preview`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewNote {
    /// The run.
    pub run: String,
    /// The node.
    pub node: String,
    /// Its output port.
    pub port: String,
}

/// A stored preview: a small PNG of a node's output in one of the run's frames.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredPreview {
    /// The frame it shows.
    pub item: Option<String>,
    /// The node.
    pub node: String,
    /// Its output port.
    pub port: String,
    /// The preview's size in pixels.
    pub width: i32,
    /// Its height.
    pub height: i32,
    /// The previewed image's size.
    pub source_width: i32,
    /// Its height.
    pub source_height: i32,
    /// The PNG.
    pub png: Vec<u8>,
}

/// What the farm announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FarmEvent {
    /// A task changed.
    Task(TaskEvent),
    /// A node output has a new preview.
    Preview(PreviewNote),
}

/// A subscription to the farm's events.
pub struct Watch {
    listener: PgListener,
}

impl Watch {
    /// The next event; `None` if the connection ended. A payload that does not parse is
    /// skipped (it is not ours to fail on).
    pub async fn next(&mut self) -> Result<Option<FarmEvent>, FarmError> {
        loop {
            let Some(note) = self.listener.try_recv().await? else { return Ok(None) };
            let event = match note.channel() {
                PREVIEWS => serde_json::from_str(note.payload()).ok().map(FarmEvent::Preview),
                _ => serde_json::from_str(note.payload()).ok().map(FarmEvent::Task),
            };
            if let Some(event) = event {
                return Ok(Some(event));
            }
        }
    }
}

impl Farm {
    /// Starts listening for the farm's events (only those committed from now on).
    pub async fn watch(&self) -> Result<Watch, FarmError> {
        let mut listener = PgListener::connect_with(self.pool()).await?;
        listener.listen_all([CHANNEL, PREVIEWS]).await?;
        Ok(Watch { listener })
    }

    /// Keeps `preview` as the latest of its run's node and port, and announces it, in one
    /// statement. A PNG over [`PREVIEW_MAX_BYTES`] is not kept (`false`).
    pub async fn put_preview(&self, run: &str, preview: &StoredPreview) -> Result<bool, FarmError> {
        if preview.png.len() > PREVIEW_MAX_BYTES {
            return Ok(false);
        }
        let note = PreviewNote { run: run.into(), node: preview.node.clone(), port: preview.port.clone() };
        sqlx::query(
            "WITH kept AS (INSERT INTO farm_previews (run_id, node, port, item, width, height, source_width, \
                 source_height, png, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (run_id, node, port) DO UPDATE SET item = excluded.item, width = excluded.width, \
                 height = excluded.height, source_width = excluded.source_width, \
                 source_height = excluded.source_height, png = excluded.png, at_ms = excluded.at_ms RETURNING 1) \
             SELECT pg_notify($11, $12) FROM kept",
        )
        .bind(run)
        .bind(&preview.node)
        .bind(&preview.port)
        .bind(&preview.item)
        .bind(preview.width)
        .bind(preview.height)
        .bind(preview.source_width)
        .bind(preview.source_height)
        .bind(&preview.png)
        .bind(crate::now_ms())
        .bind(PREVIEWS)
        .bind(serde_json::to_string(&note).unwrap_or_default())
        .execute(self.pool())
        .await?;
        Ok(true)
    }

    /// The latest preview of a run's node output.
    pub async fn preview(&self, note: &PreviewNote) -> Result<Option<StoredPreview>, FarmError> {
        Ok(sqlx::query_as(
            "SELECT item, node, port, width, height, source_width, source_height, png FROM farm_previews \
             WHERE run_id = $1 AND node = $2 AND port = $3",
        )
        .bind(&note.run)
        .bind(&note.node)
        .bind(&note.port)
        .fetch_optional(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_is_cut_so_the_payload_stays_small() {
        let event = TaskEvent {
            run: "r".into(),
            seq: 1,
            state: "queued".into(),
            worker: Some("w".into()),
            error: Some("é".repeat(2000)),
        };
        let payload = event.payload();
        assert!(payload.len() < 500, "{}", payload.len());
        let back: TaskEvent = serde_json::from_str(&payload).unwrap();
        assert!(back.error.unwrap().ends_with('…'));
    }
}
