//! The render farm's queue types a front end names (`switchyard farm`, workers, the
//! server), so front ends reach the farm's tables through the session layer.

pub use switchyard_farm::{
    BLOCK_AFTER, Blocked, Farm, FarmError, Lease, NewTask, Outcome, Requires, Split, TaskRow, Worker, WorkerRow, split,
};
