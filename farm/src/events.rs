//! Progress from the farm as it happens: each task's dispatch and end is announced with
//! PostgreSQL `NOTIFY` in the transaction that makes it (so an event is sent exactly when its
//! change commits), and anyone may `LISTEN` (`switchyard farm watch`, a server's event
//! stream). A payload is a small JSON object, its error cut to a few hundred bytes, far
//! under PostgreSQL's 8,000-byte limit.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use switchyard_ledger::SharedTx;

use crate::queue::{Farm, FarmError};

/// The notification channel.
pub const CHANNEL: &str = "switchyard_farm";

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

/// A subscription to the farm's task events.
pub struct Watch {
    listener: PgListener,
}

impl Watch {
    /// The next event; `None` if the connection ended. A payload that does not parse is
    /// skipped (it is not ours to fail on).
    pub async fn next(&mut self) -> Result<Option<TaskEvent>, FarmError> {
        loop {
            let Some(note) = self.listener.try_recv().await? else { return Ok(None) };
            if let Ok(event) = serde_json::from_str::<TaskEvent>(note.payload()) {
                return Ok(Some(event));
            }
        }
    }
}

impl Farm {
    /// Starts listening for task events (only those committed from now on).
    pub async fn watch(&self) -> Result<Watch, FarmError> {
        let mut listener = PgListener::connect_with(self.pool()).await?;
        listener.listen(CHANNEL).await?;
        Ok(Watch { listener })
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
