//! `switchyard farm submit`: the batch's files from a glob, then the session layer validates
//! every frame as a worker will build it, prices the run, checks its payer and its host
//! requirements, and queues it with its tasks in one transaction.

use std::path::Path;

use anyhow::{Context, Result};
use switchyard_engine::{InputRoots, Registry};
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::SessionError;
use switchyard_session::catalog::Catalog;
use switchyard_session::farm::{Farm, FarmRun, Payer, Queued, Submission};
use switchyard_session::placement::PlacementOptions;

use super::Exit;
use super::args::FarmCommand;

pub async fn submit(
    farm: &Farm,
    registry: &Registry,
    onnx: &OnnxSettings,
    inputs: InputRoots,
    command: FarmCommand,
) -> Result<Exit> {
    let FarmCommand::Submit {
        workflow,
        batch,
        bind,
        out,
        chunk,
        max_attempts,
        priority,
        set,
        account,
        member,
        budget,
        policy,
        at,
    } = command
    else {
        return Ok(Exit::Invalid);
    };
    let source = match switchyard_session::load::read_source(&workflow) {
        Ok(source) => source,
        Err(d) => return Ok(invalid(&d)),
    };
    let files = match switchyard_session::load::glob_files(&batch) {
        Ok(files) => files,
        Err(d) => return Ok(invalid(&d)),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let run = FarmRun {
        id: FarmRun::new_id(),
        workflow: source.text.to_string(),
        input_root: text(&source.input_root),
        out_dir: text(&out),
        bind,
        files: files.iter().map(|f| text(f)).collect(),
        overrides: set,
        billing: None,
        tenant: None,
        names: Vec::new(),
    };
    let sub = Submission {
        chunk,
        max_attempts,
        priority,
        placement: PlacementOptions { policy, at, ..PlacementOptions::default() },
        payer: Payer { account, member, budget },
    };
    let Queued { run, tasks } =
        match switchyard_session::farm::submit(farm, registry, &Catalog::builtin(), onnx, &inputs, run, &sub).await {
            Ok(queued) => queued,
            Err(e) => return Ok(refused(&e)),
        };
    eprintln!("queued {} frames in {tasks} task(s) of up to {} frames", run.files.len(), chunk.max(1));
    if let Some(b) = &run.billing {
        eprintln!(
            "billed to {}: up to {} cr a frame, reserved task by task as workers take them",
            b.account, b.item_most
        );
    }
    println!("{}", run.id);
    Ok(Exit::Ok)
}

/// Prints every problem of an invalid input; 2.
fn invalid(d: &switchyard_engine::Diagnostics) -> Exit {
    for e in &d.0 {
        eprintln!("error: {e}");
    }
    Exit::Invalid
}

/// Prints why a run was refused; 3 when the wallet or budget falls short, else 2.
fn refused(e: &SessionError) -> Exit {
    eprintln!("error: {e}");
    match e.code {
        switchyard_session::Code::OverBudget => Exit::OverBudget,
        _ => Exit::Invalid,
    }
}
