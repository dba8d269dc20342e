//! Rendering the event stream: indicatif bars for people, NDJSON for machines.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use switchyard_engine::{Event, EventKind};
use tokio::sync::mpsc::Receiver;

/// Writes one JSON object per event to stdout.
pub async fn print_ndjson(mut rx: Receiver<Event>) {
    let stdout = std::io::stdout();
    while let Some(event) = rx.recv().await {
        if let Ok(line) = serde_json::to_string(&event) {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Shows an overall bar plus a bar per node that reports progress. Draws nothing when stderr is not a terminal.
pub async fn show_bars(mut rx: Receiver<Event>, total_nodes: u64) {
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(total_nodes));
    overall.set_style(style("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} nodes {msg}"));
    overall.enable_steady_tick(Duration::from_millis(120));
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    while let Some(e) = rx.recv().await {
        let key = match &e.item {
            Some(item) => format!("{item}/{}", e.node),
            None => e.node.to_string(),
        };
        match e.kind {
            EventKind::Progress { value, max } => {
                let bar = bars.entry(key.clone()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(max));
                    b.set_style(style("  {prefix:24} {bar:30} {percent:>3}%"));
                    b.set_prefix(key);
                    b
                });
                bar.set_length(max);
                bar.set_position(value);
            }
            EventKind::Started => overall.set_message(key),
            EventKind::Finished { .. }
            | EventKind::Cached
            | EventKind::Failed { .. }
            | EventKind::Skipped { .. }
            | EventKind::Cancelled => {
                if let EventKind::Failed { message } = &e.kind {
                    overall.println(format!("failed: {key}: {message}"));
                }
                if let Some(bar) = bars.remove(&key) {
                    bar.finish_and_clear();
                }
                overall.inc(1);
            }
            EventKind::Queued | EventKind::Preview { .. } => {}
        }
    }
    overall.finish_and_clear();
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
