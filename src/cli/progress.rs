//! Rendering the event stream: indicatif bars for people, NDJSON for machines.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use switchyard_engine::{Event, EventKind};
use tokio::sync::mpsc::Receiver;

/// Writes one JSON object per event to stdout, each with the run id and the time it was
/// received (`ts_ms`, unix ms); `finished` events name the files written.
pub async fn print_ndjson(mut rx: Receiver<Event>, run_id: String) {
    let stdout = std::io::stdout();
    while let Some(event) = rx.recv().await {
        let line = event_line(&event, &run_id, now_ms());
        let mut out = stdout.lock();
        let _ = writeln!(out, "{line}");
    }
}

/// One event as its NDJSON object.
fn event_line(event: &Event, run_id: &str, ts_ms: u64) -> serde_json::Value {
    let mut line = serde_json::to_value(event).unwrap_or_default();
    if let Some(obj) = line.as_object_mut() {
        obj.insert("run_id".into(), run_id.into());
        obj.insert("ts_ms".into(), ts_ms.into());
        if let EventKind::Finished { files, .. } = &event.kind {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            obj.insert("files".into(), files.into());
        }
    }
    line
}

/// The run's first or last line on the event stream: `run_started` or `run_finished`, with
/// whatever `fields` say about it.
pub fn print_run_event(event: &str, run_id: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({ "event": event, "run_id": run_id, "ts_ms": now_ms() });
    if let (Some(obj), serde_json::Value::Object(more)) = (line.as_object_mut(), fields) {
        obj.extend(more);
    }
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Shows an overall bar plus a bar per node that reports progress. Draws nothing when stderr is not a terminal.
pub async fn show_bars(mut rx: Receiver<Event>, total_nodes: u64) {
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(total_nodes));
    overall.set_style(style("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} nodes {msg}"));
    overall.enable_steady_tick(Duration::from_millis(120));
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    let mut batch = Vec::with_capacity(EVENT_BATCH);
    while rx.recv_many(&mut batch, EVENT_BATCH).await > 0 {
        let full = batch.len() == EVENT_BATCH;
        for e in batch.drain(..) {
            show(&multi, &overall, &mut bars, e);
        }
        // Let events gather: waking for each one cost a context switch per node on large
        // graphs. The pause is far below what a person sees, and the queue has room for it.
        if !full {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    overall.finish_and_clear();
}

/// Events taken from the queue at once.
const EVENT_BATCH: usize = 1024;

fn show(multi: &MultiProgress, overall: &ProgressBar, bars: &mut HashMap<String, ProgressBar>, e: Event) {
    let key = || match &e.item {
        Some(item) => format!("{item}/{}", e.node),
        None => e.node.to_string(),
    };
    match &e.kind {
        EventKind::Progress { value, max } => {
            let bar = bars.entry(key()).or_insert_with_key(|key| {
                let b = multi.add(ProgressBar::new(*max));
                b.set_style(style("  {prefix:24} {bar:30} {percent:>3}%"));
                b.set_prefix(key.clone());
                b
            });
            bar.set_length(*max);
            bar.set_position(*value);
        }
        // Naming the running node costs a string per node: only where the bar is seen.
        EventKind::Started if !overall.is_hidden() => overall.set_message(key()),
        EventKind::Started => {}
        EventKind::Finished { .. }
        | EventKind::Cached
        | EventKind::Failed { .. }
        | EventKind::Skipped { .. }
        | EventKind::Cancelled => {
            if let EventKind::Failed { message } = &e.kind {
                overall.println(format!("failed: {}: {message}", key()));
            }
            if !bars.is_empty()
                && let Some(bar) = bars.remove(&key())
            {
                bar.finish_and_clear();
            }
            overall.inc(1);
        }
        EventKind::Queued | EventKind::Preview { .. } => {}
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use switchyard_engine::NodeId;

    use super::*;

    #[test]
    fn finished_events_carry_the_run_id_time_and_files() {
        let kind = EventKind::Finished { duration_ms: 12, files: vec!["/out/a.png".into()] };
        let event = Event { item: Some("f1".into()), node: NodeId::new("save"), kind };
        let line = event_line(&event, "0190-run", 1_700_000_000_000);
        let want = serde_json::json!({
            "item": "f1", "node": "save", "event": "finished", "duration_ms": 12,
            "run_id": "0190-run", "ts_ms": 1_700_000_000_000u64, "files": ["/out/a.png"],
        });
        assert_eq!(line, want);
        let started = Event { item: None, node: NodeId::new("save"), kind: EventKind::Started };
        assert!(event_line(&started, "r", 1).get("files").is_none());
    }
}
