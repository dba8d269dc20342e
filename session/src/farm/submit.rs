//! Queuing a farm run, for every front end (the command line, a server): every frame is
//! validated here as a worker will build it, the run is priced and its payer checked, its
//! host requirements are matched against the registered workers, and the run is stored with
//! its tasks in one transaction.

use switchyard_catalog::Catalog;
use switchyard_engine::{InputRoots, Registry};
use switchyard_farm::{Farm, FarmRun, NewTask, split};
use switchyard_nodes::onnx::OnnxSettings;

use super::quote::{Payer, check_compatible, check_payer, quote, requires_of};
use crate::SessionError;
use crate::placement::PlacementOptions;

/// The most frames one farm run may have.
pub const FRAMES_MAX: usize = 1_000_000;

/// How a run is split and retried, and who pays.
#[derive(Clone, Debug, Default)]
pub struct Submission {
    /// Frames a task.
    pub chunk: u32,
    /// Attempts a task gets before it fails for good.
    pub max_attempts: u32,
    /// Higher runs' tasks first.
    pub priority: i64,
    /// Where paid nodes run, and the price time.
    pub placement: PlacementOptions,
    /// Who pays.
    pub payer: Payer,
}

/// What the machines the run needs and what it was split into.
#[derive(Clone, Debug)]
pub struct Queued {
    /// The run as stored (its billing filled in).
    pub run: FarmRun,
    /// Its tasks.
    pub tasks: usize,
}

/// Validates, prices and queues `run` (its `billing` is set here from `sub.payer`).
pub async fn submit(
    farm: &Farm,
    registry: &Registry,
    catalog: &Catalog,
    onnx: &OnnxSettings,
    inputs: &InputRoots,
    mut run: FarmRun,
    sub: &Submission,
) -> Result<Queued, SessionError> {
    let frames = run.files.len();
    if frames == 0 || frames > FRAMES_MAX {
        return Err(SessionError::invalid(format!("a farm run has 1 to {FRAMES_MAX} frames, not {frames}")));
    }
    check_names(&run.names, frames)?;
    let mut items = super::items_of(registry, &run, 0, frames, inputs).map_err(|d| {
        let lines: Vec<String> = d.0.iter().take(20).map(ToString::to_string).collect();
        SessionError::invalid(lines.join("\n"))
    })?;
    run.billing = quote(&mut items, catalog, &sub.placement, onnx, &sub.payer)?;
    if let Some(billing) = &run.billing {
        check_payer(farm, billing, sub.chunk, frames).await?;
    }
    let requires = requires_of(&run.workflow)?;
    check_compatible(farm, &requires).await?;
    let tasks: Vec<NewTask> = split(frames as u32, sub.chunk)
        .into_iter()
        .map(|s| NewTask {
            seq: s.seq,
            from: s.from,
            to: s.to,
            priority: sub.priority,
            max_attempts: sub.max_attempts,
            requires: requires.clone(),
            kind: "graph".into(),
        })
        .collect();
    farm.submit(&run, &tasks)
        .await
        .map_err(|e| SessionError { code: crate::Code::Failed, message: format!("cannot queue the run: {e}") })?;
    Ok(Queued { tasks: tasks.len(), run })
}

/// The longest frame name.
const NAME_MAX: usize = 128;

/// Frame names given with a run: one per file, each a plain file name (letters, digits,
/// `-`, `_`, `.`, not starting with `.`), no two the same without regard to case (outputs
/// may land on a case-insensitive disk).
fn check_names(names: &[String], frames: usize) -> Result<(), SessionError> {
    if names.is_empty() {
        return Ok(());
    }
    if names.len() != frames {
        return Err(SessionError::invalid(format!(
            "{} names for {frames} frames; give one name per file",
            names.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for name in names {
        let plain = !name.is_empty()
            && name.len() <= NAME_MAX
            && !name.starts_with('.')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !plain {
            return Err(SessionError::invalid(format!(
                "frame name {name:?} is not a plain name (1 to {NAME_MAX} letters, digits, - _ . and not starting with .)"
            )));
        }
        if !seen.insert(name.to_lowercase()) {
            return Err(SessionError::invalid(format!("frame name {name:?} is given twice (names ignore case)")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_names;

    #[test]
    fn frame_names_are_one_plain_unique_name_per_file() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: [(&[&str], usize, Option<&str>); 6] = [
            (&[], 3, None),
            (&["f001", "f002"], 2, None),
            (&["f001"], 2, Some("1 names for 2 frames")),
            (&["a/b", "c"], 2, Some("not a plain name")),
            (&["..", "c"], 2, Some("not a plain name")),
            (&["Shot", "shot"], 2, Some("given twice")),
        ];
        for (given, frames, refused) in cases {
            let got = check_names(&names(given), frames).err().map(|e| e.message);
            match refused {
                None => assert!(got.is_none(), "{given:?}: {got:?}"),
                Some(says) => assert!(got.as_deref().is_some_and(|m| m.contains(says)), "{given:?}: {got:?}"),
            }
        }
    }
}
