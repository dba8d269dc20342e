//! `switchyard farm`: the render farm's queue on PostgreSQL, for its operator: workers and
//! what they offer, tasks by run and state, leases held, the blocklist; draining a worker,
//! clearing a blocklist, and how a batch splits into tasks.

use anyhow::{Context, Result};
use switchyard_engine::{InputRoots, Registry};
use switchyard_session::farm::{BLOCK_AFTER, Farm, split};

use super::Exit;
use super::args::FarmCommand;

/// The environment variable naming the farm's database when `--database` does not.
const DATABASE_VAR: &str = "SWITCHYARD_FARM_DATABASE";

/// The farm's database URL: `--database`, else the environment.
pub fn database_url(database: Option<String>) -> Option<String> {
    let url = database.or_else(|| std::env::var(DATABASE_VAR).ok().filter(|u| !u.is_empty()));
    if url.is_none() {
        eprintln!("error: no farm database: give --database postgres://… or set {DATABASE_VAR}");
    }
    url
}

pub fn farm(
    command: FarmCommand,
    database: Option<String>,
    json: bool,
    registry: &Registry,
    onnx: &switchyard_nodes::onnx::OnnxSettings,
    inputs: InputRoots,
) -> Result<Exit> {
    if let FarmCommand::Plan { run: None, items: Some(items), chunk } = command {
        return Ok(plan(items, chunk, json));
    }
    let Some(url) = database_url(database) else { return Ok(Exit::Invalid) };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let farm = Farm::connect(&url, 2).await.context("cannot open the farm's database")?;
        match command {
            FarmCommand::Status => status(&farm, json).await,
            FarmCommand::Drain { worker } => {
                if !farm.drain(&worker).await? {
                    eprintln!("error: no worker {worker}; `switchyard farm status` lists them");
                    return Ok(Exit::Invalid);
                }
                println!("{worker}: draining (it finishes what it holds and takes nothing new)");
                Ok(Exit::Ok)
            }
            FarmCommand::Unblock { run, worker } => {
                let cleared = farm.clear_blocklist(&run, worker.as_deref()).await?;
                println!("{run}: {cleared} blocklist entr{} cleared", if cleared == 1 { "y" } else { "ies" });
                Ok(Exit::Ok)
            }
            FarmCommand::Plan { run, .. } => {
                super::farm_plan::plan_run(&farm, run.as_deref().unwrap_or(""), json).await
            }
            FarmCommand::Tasks { run } => tasks(&farm, &run, json).await,
            FarmCommand::Cancel { run } => changed(&farm, &run, "cancelled", farm.cancel_run(&run).await?).await,
            FarmCommand::Pause { run } => changed(&farm, &run, "paused", farm.pause_run(&run).await?).await,
            FarmCommand::Resume { run } => changed(&farm, &run, "resumed", farm.resume_run(&run).await?).await,
            FarmCommand::Priority { run, priority } => {
                changed(&farm, &run, &format!("set to priority {priority}"), farm.set_priority(&run, priority).await?)
                    .await
            }
            FarmCommand::Watch { run } => super::farm_plan::watch(&farm, &run, json).await,
            submit @ FarmCommand::Submit { .. } => {
                super::farm_submit::submit(&farm, registry, onnx, inputs, submit).await
            }
        }
    })
}

fn plan(items: u32, chunk: u32, json: bool) -> Exit {
    let tasks = split(items, chunk);
    if json {
        let doc: Vec<_> =
            tasks.iter().map(|t| serde_json::json!({ "task": t.seq, "from": t.from, "to": t.to })).collect();
        println!("{}", serde_json::Value::Array(doc));
        return Exit::Ok;
    }
    println!(
        "{items} frames in {} task(s) of up to {} frames; each frame's graph runs whole on one worker",
        tasks.len(),
        chunk.max(1)
    );
    for t in &tasks {
        println!("  task {:>5}  frames {}-{}", t.seq, t.from, t.to.saturating_sub(1));
    }
    Exit::Ok
}

async fn status(farm: &Farm, json: bool) -> Result<Exit> {
    let (workers, summary, leases, blocked) =
        (farm.workers().await?, farm.summary().await?, farm.leases().await?, farm.blocklist().await?);
    if json {
        let doc = serde_json::json!({
            "workers": workers.iter().map(|w| serde_json::json!({
                "id": w.id, "host": w.host, "state": w.state, "slots": w.slots, "memory_gb": w.memory_gb,
                "gpu_brands": w.gpu_brands, "tags": w.tags, "heartbeat_at_ms": w.heartbeat_at_ms,
            })).collect::<Vec<_>>(),
            "tasks": summary.iter().map(|(run, state, n)| serde_json::json!({ "run": run, "state": state, "tasks": n })).collect::<Vec<_>>(),
            "leases": leases.iter().map(|(task, run, seq, worker, attempt, expires)| serde_json::json!({
                "task": task, "run": run, "seq": seq, "worker": worker, "attempt": attempt, "expires_at_ms": expires,
            })).collect::<Vec<_>>(),
            "blocklist": blocked.iter().map(|b| serde_json::json!({
                "run": b.run_id, "worker": b.worker, "kind": b.kind, "failures": b.failures,
                "blocked": b.failures >= BLOCK_AFTER, "last_error": b.last_error,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Exit::Ok);
    }
    println!("workers ({}):", workers.len());
    for w in &workers {
        let gpus = if w.gpu_brands.is_empty() { "no gpu".to_string() } else { w.gpu_brands.join(",") };
        println!(
            "  {:<16} {:<9} {} slots, {:.0} GB, {gpus}, tags [{}]  on {}",
            w.id,
            w.state,
            w.slots,
            w.memory_gb,
            w.tags.join(","),
            w.host
        );
    }
    println!("tasks:");
    for (run, state, n) in &summary {
        println!("  {run:<38} {state:<9} {n}");
    }
    println!("leases ({}):", leases.len());
    for (task, run, seq, worker, attempt, _) in &leases {
        println!("  task {task} ({run} #{seq}) held by {} (attempt {attempt})", worker.as_deref().unwrap_or("?"));
    }
    println!("blocklist (blocked from {BLOCK_AFTER} failures; `switchyard farm unblock RUN` clears):");
    for b in &blocked {
        let mark = if b.failures >= BLOCK_AFTER { "BLOCKED" } else { "" };
        println!("  {} {} {} failures {} {mark}", b.run_id, b.worker, b.kind, b.failures);
    }
    Ok(Exit::Ok)
}

async fn tasks(farm: &Farm, run: &str, json: bool) -> Result<Exit> {
    let tasks = farm.tasks(run).await?;
    if tasks.is_empty() {
        eprintln!("error: no tasks for run {run}");
        return Ok(Exit::Invalid);
    }
    if json {
        let doc: Vec<_> = tasks
            .iter()
            .map(|t| {
                serde_json::json!({ "task": t.id, "seq": t.seq, "state": t.state, "attempts": t.attempts,
                "worker": t.leased_by, "error": t.last_error })
            })
            .collect();
        println!("{}", serde_json::Value::Array(doc));
        return Ok(Exit::Ok);
    }
    for t in &tasks {
        let error = t.last_error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default();
        let worker = t.leased_by.as_deref().unwrap_or("-");
        println!("  #{:<5} {:<9} attempts {}  {worker}{error}", t.seq, t.state, t.attempts);
    }
    Ok(Exit::Ok)
}

/// Says how many of a run's tasks a change reached; 2 for a run that does not exist.
async fn changed(farm: &Farm, run: &str, what: &str, tasks: u64) -> Result<Exit> {
    if farm.run(run).await?.is_none() && farm.tasks(run).await?.is_empty() {
        eprintln!("error: no run {run}; `switchyard farm status` lists the runs");
        return Ok(Exit::Invalid);
    }
    println!("{run}: {tasks} task(s) {what}");
    Ok(Exit::Ok)
}
