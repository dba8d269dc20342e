//! `switchyard farm submit`: validates every batch item here, as `switchyard run --batch`
//! does, then stores the run and queues its tasks in one transaction.

use std::path::Path;

use anyhow::{Context, Result};
use switchyard_engine::{InputRoots, Registry};
use switchyard_session::farm::{Farm, FarmRun, NewTask, Requires, split};
use switchyard_session::load::{BatchOptions, LoadOptions};

use super::Exit;

/// The most nodes a farm run's workflow may have (as a server's).
const MAX_NODES: usize = 100_000;
use super::args::FarmCommand;

pub async fn submit(farm: &Farm, registry: &Registry, inputs: InputRoots, command: FarmCommand) -> Result<Exit> {
    let FarmCommand::Submit { workflow, batch, bind, out, chunk, max_attempts, priority, set } = command else {
        return Ok(Exit::Invalid);
    };
    let opts = LoadOptions { workflow: workflow.clone(), overrides: set.clone(), max_nodes: MAX_NODES, inputs };
    let batch_opts = BatchOptions { pattern: batch.clone(), bind: bind.clone() };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    if let Err(d) = switchyard_session::load::prepare(registry, &opts, Some(&batch_opts), &out) {
        for e in &d.0 {
            eprintln!("error: {e}");
        }
        return Ok(Exit::Invalid);
    }
    let source = switchyard_session::load::read_source(&workflow).map_err(|d| anyhow::anyhow!("{}", d.0[0]))?;
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
        billing: None,
    };
    let tasks: Vec<NewTask> = split(run.files.len() as u32, chunk)
        .into_iter()
        .map(|s| NewTask {
            seq: s.seq,
            from: s.from,
            to: s.to,
            priority,
            max_attempts,
            requires: Requires::default(),
            kind: "graph".into(),
        })
        .collect();
    farm.submit(&run, &tasks).await?;
    eprintln!("queued {} frames in {} task(s) of up to {} frames", run.files.len(), tasks.len(), chunk.max(1));
    println!("{}", run.id);
    Ok(Exit::Ok)
}
