//! `switchyard farm submit`: validates every batch item here, as `switchyard run --batch`
//! does, then stores the run and queues its tasks in one transaction.

use std::path::Path;

use anyhow::{Context, Result};
use switchyard_engine::{InputRoots, Registry};
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::SessionError;
use switchyard_session::catalog::Catalog;
use switchyard_session::farm::{
    Farm, FarmRun, NewTask, Payer, check_compatible, check_payer, quote, requires_of, split,
};
use switchyard_session::load::{BatchOptions, LoadOptions};
use switchyard_session::placement::PlacementOptions;

use super::Exit;

/// The most nodes a farm run's workflow may have (as a server's).
const MAX_NODES: usize = 100_000;
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
    let opts = LoadOptions { workflow: workflow.clone(), overrides: set.clone(), max_nodes: MAX_NODES, inputs };
    let batch_opts = BatchOptions { pattern: batch.clone(), bind: bind.clone() };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let mut items = match switchyard_session::load::prepare(registry, &opts, Some(&batch_opts), &out) {
        Ok(items) => items,
        Err(d) => {
            for e in &d.0 {
                eprintln!("error: {e}");
            }
            return Ok(Exit::Invalid);
        }
    };
    let placement = PlacementOptions { policy, at, ..PlacementOptions::default() };
    let payer = Payer { account, member, budget };
    let billing = match quote(&mut items, &Catalog::builtin(), &placement, onnx, &payer) {
        Ok(billing) => billing,
        Err(e) => return Ok(refused(&e)),
    };
    if let Some(billing) = &billing
        && let Err(e) = check_payer(farm, billing, chunk, items.len()).await
    {
        return Ok(refused(&e));
    }
    let source = switchyard_session::load::read_source(&workflow).map_err(|d| anyhow::anyhow!("{}", d.0[0]))?;
    let requires = match requires_of(&source.text) {
        Ok(requires) => requires,
        Err(e) => return Ok(refused(&e)),
    };
    if let Err(e) = check_compatible(farm, &requires).await {
        return Ok(refused(&e));
    }
    let files = switchyard_session::load::glob_files(&batch).map_err(|d| anyhow::anyhow!("{}", d.0[0]))?;
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let run = FarmRun {
        id: FarmRun::new_id(),
        workflow: source.text,
        input_root: text(&source.input_root),
        out_dir: text(&out),
        bind,
        files: files.iter().map(|f| text(f)).collect(),
        overrides: set,
        billing,
    };
    let tasks: Vec<NewTask> = split(run.files.len() as u32, chunk)
        .into_iter()
        .map(|s| NewTask {
            seq: s.seq,
            from: s.from,
            to: s.to,
            priority,
            max_attempts,
            requires: requires.clone(),
            kind: "graph".into(),
        })
        .collect();
    farm.submit(&run, &tasks).await?;
    eprintln!("queued {} frames in {} task(s) of up to {} frames", run.files.len(), tasks.len(), chunk.max(1));
    if let Some(b) = &run.billing {
        eprintln!(
            "billed to {}: up to {} cr a frame, reserved task by task as workers take them",
            b.account, b.item_most
        );
    }
    println!("{}", run.id);
    Ok(Exit::Ok)
}

/// Prints why a run was refused; 3 when the wallet or budget falls short, else 2.
fn refused(e: &SessionError) -> Exit {
    eprintln!("error: {e}");
    match e.code {
        switchyard_session::Code::OverBudget => Exit::OverBudget,
        _ => Exit::Invalid,
    }
}
