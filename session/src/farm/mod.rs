//! The render farm through the session layer: the farm queue's types a front end names, a
//! farm run's items rebuilt from its stored row (validated as `switchyard run --batch` does),
//! and the worker loop (`worker.rs`).

mod front;
mod isolate;
mod link;
mod quote;
mod report;
mod submit;
mod tier;
mod worker;

use std::path::{Path, PathBuf};

pub use front::{spend_step, task_input, task_view};
pub use isolate::{Isolation, TaskOutcome, run_child};
pub use link::{Link, Remote};
pub use quote::{Payer, check_compatible, check_payer, quote, requires_of};
pub use submit::{FRAMES_MAX, Queued, Submission, submit};
use switchyard_engine::batch::{BatchItem, item_names};
use switchyard_engine::{Diagnostic, Diagnostics, InputRoots, PathRoots, Registry};
pub use switchyard_farm::{
    ArtifactError, Artifacts, BLOCK_AFTER, Blocked, ClaimRequest, CompleteRequest, Farm, FarmError, FarmEvent, FarmRun,
    Known, Lease, Leases, LostRequest, NewTask, Outcome, Output, PreviewNote, PreviewRequest, RenewRequest, Renewed,
    Requires, RunBilling, RunSummary, SpendRequest, SpendStep, Spent, Split, StoredPreview, TaskEvent, TaskIds,
    TaskItem, TaskRef, TaskRow, TaskView, Worker, WorkerRef, WorkerRow, split,
};
pub use worker::{Ran, WorkerOptions, WorkerStats, run_leased, work};

use crate::load::{LoadOptions, Source, compile, parse_overrides};
use switchyard_engine::format::Override;

/// The most nodes a farm run's workflow may have.
const MAX_NODES: usize = 100_000;

/// Items `[from, to)` of `run`, each with its file bound, named as a local batch names them
/// (so `{item}` outputs match), writing under the run's shared output folder.
pub fn items_of(
    registry: &Registry,
    run: &FarmRun,
    from: usize,
    to: usize,
    inputs: &InputRoots,
) -> Result<Vec<BatchItem>, Diagnostics> {
    let (node, param) = run.bind.split_once('.').ok_or_else(|| {
        Diagnostics::from(Diagnostic::file("bad-bind", format!("the run's bind {:?} is not node.param", run.bind)))
    })?;
    let files = run.files.get(from..to).ok_or_else(|| {
        Diagnostics::from(Diagnostic::file(
            "bad-task",
            format!("items {from}..{to} are outside the run's {} files", run.files.len()),
        ))
    })?;
    let names = if run.names.is_empty() { item_names(&run.files) } else { run.names.clone() };
    let source = Source::text(run.workflow.clone(), PathBuf::from(&run.input_root));
    let opts = LoadOptions {
        workflow: Path::new(&run.input_root).join("workflow.json"),
        overrides: run.overrides.clone(),
        max_nodes: MAX_NODES,
        inputs: inputs.clone(),
    };
    let base = parse_overrides(&run.overrides)?;
    let mut items = Vec::with_capacity(files.len());
    for (file, name) in files.iter().zip(&names[from..to]) {
        let mut overrides = base.clone();
        overrides.push(Override { node: node.into(), param: param.into(), raw: file.clone() });
        let graph = compile(registry, &source, &overrides, &opts)?;
        let bound = format!("{node}.{param}={file}");
        let typed: Vec<String> = run.overrides.iter().cloned().chain([bound]).collect();
        let roots = PathRoots::new(&run.input_root, &run.out_dir).with_inputs(inputs.clone());
        let paths = source.carried_by(roots, &graph, &typed);
        items.push(BatchItem { name: name.clone(), graph, paths });
    }
    Ok(items)
}
