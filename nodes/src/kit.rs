//! Small shared pieces for writing nodes: CPU and inline node wrappers, limits, and param kinds.

use switchyard_engine::{Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs, run_blocking};

/// The work of a node, as a plain function of its context.
pub type Work = fn(&NodeContext) -> Result<Outputs, NodeError>;

/// A node whose work runs on the blocking pool (image ops).
pub struct CpuNode {
    spec: NodeSpec,
    work: Work,
}

impl CpuNode {
    /// Pairs a spec with its work.
    pub fn new(spec: NodeSpec, work: Work) -> Self {
        Self { spec, work }
    }
}

impl Node for CpuNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        run_blocking(ctx, self.work)
    }
}

/// A node so cheap it runs on the scheduler's own task (values, text).
pub struct InlineNode {
    spec: NodeSpec,
    work: Work,
}

impl InlineNode {
    /// Pairs a spec with its work, marking the spec instant.
    pub fn new(spec: NodeSpec, work: Work) -> Self {
        Self { spec: spec.instant(), work }
    }
}

impl Node for InlineNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        Box::pin(std::future::ready((self.work)(&ctx)))
    }

    fn run_now(&self, ctx: &NodeContext) -> Result<Outputs, NodeError> {
        (self.work)(ctx)
    }
}

/// The longest side of any image a node makes or loads.
pub const MAX_SIDE: u32 = 16_384;
/// The most pixels in any image a node makes or loads (about 8K by 5K).
pub const MAX_PIXELS: u64 = 40_000_000;

/// Refuses sizes beyond the limits, naming them.
pub fn check_size(what: &str, width: u32, height: u32) -> Result<(), NodeError> {
    if width == 0 || height == 0 {
        return Err(NodeError::Invalid(format!("{what} would be {width}x{height}; both sides must be at least 1")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(NodeError::Invalid(format!(
            "{what} would be {width}x{height}; the limit is {MAX_SIDE} per side and {MAX_PIXELS} pixels"
        )));
    }
    Ok(())
}

/// An integer param that must fit in `u32`; validation already checked its range.
pub fn u32_param(ctx: &NodeContext, name: &str) -> Result<u32, NodeError> {
    let v = ctx.int(name)?;
    u32::try_from(v).map_err(|_| NodeError::Invalid(format!("param {name:?} = {v} does not fit a size")))
}

/// Reports progress and checks for cancellation every `every` rows.
pub fn row_tick(ctx: &NodeContext, row: u32, rows: u32, every: u32) -> Result<(), NodeError> {
    if row.is_multiple_of(every) {
        ctx.check_cancelled()?;
        ctx.progress(u64::from(row), u64::from(rows));
    }
    Ok(())
}
