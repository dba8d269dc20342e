//! Batch runs: one workflow over many inputs (frames, folders), concurrently, sharing the
//! executor's cache and resource limits.

use std::collections::HashSet;
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
    let stem = |p: &P| p.as_ref().file_stem().map_or_else(|| "item".to_string(), |s| s.to_string_lossy().into_owned());
    let stems: Vec<String> = paths.iter().map(stem).collect();
    // Names are compared without case (outputs may land on a case-insensitive disk), and a
    // file's own stem is never given to another file as a suffixed name.
    let natural: HashSet<String> = stems.iter().map(|s| s.to_lowercase()).collect();
    let mut used: HashSet<String> = HashSet::with_capacity(stems.len());
    stems
        .into_iter()
        .map(|stem| {
            if used.insert(stem.to_lowercase()) {
                return stem;
            }
            let mut n = 2usize;
            loop {
                let name = format!("{stem}-{n}");
                let key = name.to_lowercase();
                if !natural.contains(&key) && used.insert(key) {
                    return name;
                }
                n += 1;
            }
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

    /// Regression (issue 13): `shot.png`, `shot.PNG` and `shot-2.png` made two items named
    /// `shot-2`, so one overwrote the other's output.
    #[test]
    fn item_names_are_unique_without_case_and_never_take_another_files_name() {
        let cases: [(&[&str], &[&str]); 3] = [
            (&["shot.png", "shot.PNG", "shot-2.png"], &["shot", "shot-3", "shot-2"]),
            (&["A.png", "a.png", "a-2.png", "a.tif"], &["A", "a-3", "a-2", "a-4"]),
            (&["x/f.png", "y/f.png", "z/f.png"], &["f", "f-2", "f-3"]),
        ];
        for (paths, want) in cases {
            let names = item_names(paths);
            assert_eq!(names, want, "{paths:?}");
            let lower: std::collections::HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
            assert_eq!(lower.len(), names.len(), "{names:?}");
        }
    }
}
