//! Undo and redo over whole-file snapshots. Snapshots are the saved format, so undo can never
//! bring back a state the file could not hold; edits to one widget within a second coalesce.

use std::time::{Duration, Instant};

use switchyard_engine::format::WorkflowFile;

/// Steps kept; the oldest goes first.
pub const MAX_STEPS: usize = 200;
/// Edits to the same thing closer together than this are one step.
const COALESCE: Duration = Duration::from_millis(1000);

/// The undo and redo stacks.
#[derive(Debug, Default)]
pub struct History {
    undo: Vec<WorkflowFile>,
    redo: Vec<WorkflowFile>,
    last: Option<(String, Instant)>,
}

impl History {
    /// Records `before`, the state an edit is about to change. `what` names the edited thing
    /// (`blur.sigma`); repeated edits of one thing in quick succession keep one step.
    pub fn record(&mut self, before: WorkflowFile, what: Option<&str>) {
        let now = Instant::now();
        let same = matches!((&self.last, what), (Some((w, t)), Some(x)) if w == x && now - *t < COALESCE);
        self.last = what.map(|w| (w.to_string(), now));
        self.redo.clear();
        if same {
            return;
        }
        if self.undo.len() == MAX_STEPS {
            self.undo.remove(0);
        }
        self.undo.push(before);
    }

    /// The state to go back to, given the current one.
    pub fn undo(&mut self, current: WorkflowFile) -> Option<WorkflowFile> {
        let back = self.undo.pop()?;
        self.redo.push(current);
        self.last = None;
        Some(back)
    }

    /// The state to go forward to, given the current one.
    pub fn redo(&mut self, current: WorkflowFile) -> Option<WorkflowFile> {
        let forward = self.redo.pop()?;
        self.undo.push(current);
        self.last = None;
        Some(forward)
    }

    /// Whether there is anything to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is anything to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Forgets everything (a new file was opened).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}
