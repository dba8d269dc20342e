//! Batch runs: one workflow over many inputs (frames, folders), concurrently, sharing the
//! executor's cache and resource limits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::events::EventSink;
use crate::exec::{Executor, RunOptions, RunReport};
use crate::graph::Graph;
use crate::paths::PathRoots;

/// One input of a batch: its name, its graph (with the bound param set), and its paths.
pub struct BatchItem {
    /// The item's name, used for `{item}` in output paths and in events.
    pub name: String,
    /// The workflow with this item's value bound.
    pub graph: Graph,
    /// Where its paths resolve; `item` is set from `name`.
    pub paths: PathRoots,
}

/// Runs every item, at most `max_in_flight` at once, and returns the reports in item order.
pub async fn run_batch(
    exec: &Executor,
    items: Vec<BatchItem>,
    events: &EventSink,
    cancel: &CancellationToken,
    max_in_flight: usize,
) -> Vec<RunReport> {
    let runs = items.into_iter().enumerate().map(|(i, mut item)| {
        item.paths.item = Some(item.name.clone());
        let opts = RunOptions {
            paths: Arc::new(item.paths),
            events: events.for_item(&item.name),
            cancel: cancel.clone(),
            keep_outputs: false,
        };
        async move { (i, exec.run(&item.graph, opts).await) }
    });
    let mut reports: Vec<(usize, RunReport)> =
        stream::iter(runs).buffer_unordered(max_in_flight.max(1)).collect().await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Names for batch inputs: each file's stem, with `-2`, `-3`… added where stems repeat.
pub fn item_names<P: AsRef<Path>>(paths: &[P]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    paths
        .iter()
        .map(|p| {
            let stem = p.as_ref().file_stem().map_or_else(|| "item".to_string(), |s| s.to_string_lossy().into_owned());
            let n = seen.entry(stem.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { stem } else { format!("{stem}-{n}") }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::item_names;

    #[test]
    fn repeated_stems_get_suffixes() {
        assert_eq!(item_names(&["a/f1.png", "b/f1.png", "f2.png"]), vec!["f1", "f1-2", "f2"]);
    }
}
