//! `switchyard farm plan RUN`: how a stored run was split (the splitting rule applied), task
//! by task: its frames, its state and attempts, and what it reserves when dispatched; and
//! `switchyard farm watch RUN`: its tasks' progress as workers announce it.

use std::collections::BTreeMap;

use anyhow::Result;
use switchyard_session::farm::{Farm, FarmEvent};

use super::Exit;

pub async fn plan_run(farm: &Farm, run_id: &str, json: bool) -> Result<Exit> {
    let Some(run) = farm.run(run_id).await? else {
        eprintln!("error: no run {run_id}; `switchyard farm status` lists the runs");
        return Ok(Exit::Invalid);
    };
    let tasks = farm.tasks(run_id).await?;
    let item_most = run.billing.as_ref().map_or(0, |b| b.item_most);
    let file = |i: i32| {
        let path = run.files.get(i.max(0) as usize).map_or("?", String::as_str);
        std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
    };
    if json {
        let doc = serde_json::json!({
            "run": run.id,
            "frames": run.files.len(),
            "billing": run.billing,
            "tasks": tasks.iter().map(|t| serde_json::json!({
                "task": t.seq, "from": t.item_from, "to": t.item_to,
                "first": file(t.item_from), "last": file(t.item_to - 1),
                "state": t.state, "attempts": t.attempts,
                "most_credits": i64::from(t.item_to - t.item_from) * item_most,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Exit::Ok);
    }
    println!(
        "run {}: {} frames in {} task(s); each frame's graph runs whole on one worker",
        run.id,
        run.files.len(),
        tasks.len()
    );
    if let Some(b) = &run.billing {
        println!("billed to {}: up to {} cr a frame, reserved per task as it is dispatched", b.account, b.item_most);
    }
    for t in &tasks {
        let most = i64::from(t.item_to - t.item_from) * item_most;
        let money = if item_most > 0 { format!("  up to {most} cr") } else { String::new() };
        println!(
            "  task {:>5}  frames {}-{} ({} .. {})  {:<9} attempt {}{money}",
            t.seq,
            t.item_from,
            t.item_to - 1,
            file(t.item_from),
            file(t.item_to - 1),
            t.state,
            t.attempts
        );
    }
    Ok(Exit::Ok)
}

/// Follows `run_id` until every task has ended: one line (or JSON object) per change.
pub async fn watch(farm: &Farm, run_id: &str, json: bool) -> Result<Exit> {
    // Listen first, then read where the run stands, so no change falls between the two.
    let mut events = farm.watch().await?;
    let mut states: BTreeMap<i32, String> = farm.tasks(run_id).await?.into_iter().map(|t| (t.seq, t.state)).collect();
    if states.is_empty() {
        eprintln!("error: no tasks for run {run_id}");
        return Ok(Exit::Invalid);
    }
    let ended = |s: &str| matches!(s, "done" | "failed" | "cancelled");
    let count = |states: &BTreeMap<i32, String>, want: &str| states.values().filter(|s| *s == want).count();
    if !json {
        println!("run {run_id}: {} of {} tasks done", count(&states, "done"), states.len());
    }
    while !states.values().all(|s| ended(s)) {
        let event = match events.next().await? {
            Some(FarmEvent::Task(event)) => event,
            Some(FarmEvent::Preview(_)) => continue,
            None => {
                eprintln!("error: the farm database closed the connection");
                return Ok(Exit::Failed);
            }
        };
        if event.run != run_id || !states.contains_key(&event.seq) {
            continue;
        }
        states.insert(event.seq, event.state.clone());
        if json {
            println!("{}", serde_json::to_string(&event)?);
            continue;
        }
        let by = event.worker.as_deref().map(|w| format!(" on {w}")).unwrap_or_default();
        let why = event.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        println!("task {} {}{by}{why}  ({}/{} done)", event.seq, event.state, count(&states, "done"), states.len());
    }
    Ok(if count(&states, "failed") > 0 {
        Exit::Failed
    } else if count(&states, "cancelled") > 0 {
        Exit::Cancelled
    } else {
        Exit::Ok
    })
}
