//! Tasks in child processes (`switchyard worker --isolate`). The worker keeps the lease and
//! runs each task as `switchyard worker-task`, a child of its own that reads the task by its
//! lease token, runs it and prints how it ended. A crash then takes only that task. A child
//! killed by SIGKILL that the worker did not kill is what the kernel's out-of-memory killer
//! does: the task goes back to the queue for a machine with more memory, where one exists.

use std::path::PathBuf;
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use switchyard_engine::Registry;
use switchyard_farm::{Lease, Outcome};
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;

use super::link::Link;
use super::worker::{Ran, WorkerOptions, run_leased};

/// The most a child may print, in bytes (one line of JSON is expected).
const CHILD_OUTPUT_MAX: u64 = 64 * 1024;

/// How a child ran its task, as it prints it on its last line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Every frame is done; the files it wrote.
    Done(Vec<switchyard_farm::Output>),
    /// It failed.
    Failed(String),
    /// A service it needs was away.
    Interrupted(String),
    /// The lease named was not held (taken back, cancelled): nothing ran.
    Lost,
}

/// How a worker starts its children.
#[derive(Clone, Debug)]
pub struct Isolation {
    /// This program.
    pub exe: PathBuf,
    /// The farm, for the child: its database's URL, or its server's (`http…`; the child
    /// reads the worker key from `SWITCHYARD_TOKEN`, as its parent did).
    pub farm: String,
    /// The artifact store's address, for the child.
    pub artifacts: Option<String>,
}

/// Runs `lease`'s task in a child process and maps how it ended. When `cancel` fires (the
/// lease was lost) the child is killed.
pub(super) async fn in_child(iso: &Isolation, opts: &WorkerOptions, lease: &Lease, cancel: &CancellationToken) -> Ran {
    let mut cmd = tokio::process::Command::new(&iso.exe);
    let via =
        if iso.farm.starts_with("http://") || iso.farm.starts_with("https://") { "--server" } else { "--database" };
    cmd.args(["worker-task", via, &iso.farm, "--task", &lease.task.to_string(), "--token", &lease.token]);
    if let Some(dir) = &opts.exec.cache.dir {
        cmd.arg("--cache-dir").arg(dir);
    }
    if let Some(address) = &iso.artifacts {
        cmd.args(["--artifacts", address]);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::Interrupted(format!("cannot start the task's process: {e}")).into(),
    };
    let Some(stdout) = child.stdout.take() else {
        return Outcome::Failed("the task's process has no output".into()).into();
    };
    let ran = async {
        let mut text = String::new();
        let _ = stdout.take(CHILD_OUTPUT_MAX).read_to_string(&mut text).await;
        (child.wait().await, text)
    };
    tokio::select! {
        (status, text) = ran => outcome_of_child(status, &text, &opts.worker.id, opts.worker.memory_gb),
        // Dropping the child kills it.
        _ = cancel.cancelled() => Outcome::Interrupted("the lease was lost; the task's process was stopped".into()).into(),
    }
}

/// What a child's exit means.
fn outcome_of_child(
    status: std::io::Result<std::process::ExitStatus>,
    text: &str,
    worker: &str,
    memory_gb: f64,
) -> Ran {
    use std::os::unix::process::ExitStatusExt as _;
    let status = match status {
        Ok(status) => status,
        Err(e) => return Outcome::Failed(format!("cannot wait for the task's process: {e}")).into(),
    };
    if status.signal() == Some(9) {
        return Outcome::OutOfMemory(format!(
            "the task's process was killed (SIGKILL) on {worker} ({memory_gb:.0} GB), as the kernel's out-of-memory killer does"
        ))
        .into();
    }
    let said = text.lines().rev().find_map(|l| serde_json::from_str::<TaskOutcome>(l).ok());
    match (status.success(), said) {
        (true, Some(TaskOutcome::Done(outputs))) => Ran { outcome: Outcome::Done, outputs },
        (true, Some(TaskOutcome::Failed(why))) => Outcome::Failed(why).into(),
        (true, Some(TaskOutcome::Interrupted(why))) => Outcome::Interrupted(why).into(),
        (true, Some(TaskOutcome::Lost)) => Outcome::Interrupted("the child found the lease gone".into()).into(),
        _ => {
            Outcome::Failed(format!("the task's process ended with {status} without saying how the task ended")).into()
        }
    }
}

/// The child's side (`switchyard worker-task`): runs the task that `token` leases, if it is
/// still held, and says how it ended. The parent renews the lease and reports.
pub async fn run_child(
    farm: &Link,
    registry: &Registry,
    opts: &WorkerOptions,
    task: i64,
    token: &str,
) -> Result<TaskOutcome, switchyard_farm::FarmError> {
    let Some(lease) = farm.lease(task, token).await? else { return Ok(TaskOutcome::Lost) };
    let cancel = CancellationToken::new();
    let opts = &super::worker::with_shared_cache(farm, opts);
    let ran = run_leased(farm, registry, opts, &lease, &cancel).await;
    Ok(match ran.outcome {
        Outcome::Done => TaskOutcome::Done(ran.outputs),
        Outcome::Failed(why) | Outcome::OutOfMemory(why) => TaskOutcome::Failed(why),
        Outcome::Interrupted(why) => TaskOutcome::Interrupted(why),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn a_childs_exit_says_how_its_task_ended() {
        let exit = |raw: i32| Ok(std::process::ExitStatus::from_raw(raw));
        let line = |o: &TaskOutcome| serde_json::to_string(o).unwrap();
        let cases: Vec<(std::io::Result<std::process::ExitStatus>, String, &str)> = vec![
            (exit(0), line(&TaskOutcome::Done(Vec::new())), "done"),
            (exit(0), format!("noise\n{}", line(&TaskOutcome::Failed("bad frame".into()))), "failed"),
            (exit(0), line(&TaskOutcome::Interrupted("db away".into())), "interrupted"),
            (exit(9), String::new(), "oom"),
            (exit(11), String::new(), "failed"),
            (exit(1 << 8), line(&TaskOutcome::Done(Vec::new())), "failed"),
        ];
        for (status, text, want) in cases {
            let got = match outcome_of_child(status, &text, "w1", 8.0).outcome {
                Outcome::Done => "done",
                Outcome::Failed(_) => "failed",
                Outcome::Interrupted(_) => "interrupted",
                Outcome::OutOfMemory(why) => {
                    assert!(why.contains("w1 (8 GB)"), "{why}");
                    "oom"
                }
            };
            assert_eq!(got, want, "{text:?}");
        }
    }
}
