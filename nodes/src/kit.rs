//! Small shared pieces for writing nodes: CPU and inline node wrappers, limits, and param kinds.

use switchyard_engine::{Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs, Value, run_blocking};

/// The work of a node, as a plain function of its context.
pub type Work = fn(&NodeContext) -> Result<Outputs, NodeError>;

/// A node whose work runs on the blocking pool (image ops), or at once where its footprint
/// says the work is smaller than the hand-over.
pub struct CpuNode {
    spec: NodeSpec,
    work: Work,
    footprint: Footprint,
}

/// How many pixels a CPU node's work touches, as far as it is known before the work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Footprint {
    /// Not known (files, sizes scaled by params, work per pixel that params multiply).
    Unknown,
    /// No more than its image and mask inputs hold, with a small cost per pixel (colour,
    /// blends, crops).
    Inputs,
    /// An image the size of its `width` and `height` params (generators).
    SizeParams,
}

/// Work on at most this many pixels runs at once on the scheduler's thread: handing it to
/// the blocking pool and back is three thread switches (about 50 µs on a 2-core machine),
/// more than the work. A 32x32 image is at the line.
pub const INLINE_MAX_PIXELS: u64 = 1024;

impl CpuNode {
    /// Pairs a spec with its work, which always runs on the blocking pool.
    pub fn new(spec: NodeSpec, work: Work) -> Self {
        Self { spec, work, footprint: Footprint::Unknown }
    }

    /// The same node, its work run at once where `footprint` shows it small.
    pub fn footprint(mut self, footprint: Footprint) -> Self {
        self.footprint = footprint;
        self
    }

    /// Whether this run's work is small enough to do at once.
    fn small(&self, ctx: &NodeContext) -> bool {
        let pixels = match self.footprint {
            Footprint::Unknown => return false,
            Footprint::Inputs => {
                let values = self.spec.inputs.iter().flat_map(|port| ctx.inputs(port.name));
                values.map(pixels_of).sum::<u64>()
            }
            Footprint::SizeParams => match (ctx.int("width"), ctx.int("height")) {
                (Ok(w), Ok(h)) => u64::try_from(w.saturating_mul(h)).unwrap_or(u64::MAX),
                _ => return false,
            },
        };
        pixels <= INLINE_MAX_PIXELS
    }
}

fn pixels_of(value: &Value) -> u64 {
    match value {
        Value::Image(i) => u64::from(i.width()) * u64::from(i.height()),
        Value::Mask(m) => u64::from(m.width()) * u64::from(m.height()),
        _ => 0,
    }
}

impl Node for CpuNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        if self.small(&ctx) {
            let work = self.work;
            // Run when polled, so the executor's panic capture and timeout wrap it as usual.
            return Box::pin(async move { work(&ctx) });
        }
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use switchyard_engine::{Image, Mask, ParamKind, ParamSpec, ParamValue, PathRoots, PortType};

    use super::*;

    thread_local! {
        static RAN_HERE: Cell<bool> = const { Cell::new(false) };
    }

    fn mark(_: &NodeContext) -> Result<Outputs, NodeError> {
        RAN_HERE.with(|here| here.set(true));
        Ok(Outputs::new())
    }

    fn image(side: u32) -> Value {
        Value::Image(Image::new(side, side, vec![0.0; (side * side * 4) as usize]).unwrap())
    }

    fn mask(side: u32) -> Value {
        Value::Mask(Mask::new(side, side, vec![0.0; (side * side) as usize]).unwrap())
    }

    /// Whether the work ran on the calling thread (at once) rather than the blocking pool.
    fn ran_at_once(footprint: Footprint, inputs: Vec<Value>, mask_in: Option<Value>, side: i64) -> bool {
        let int = ParamKind::Int { min: 1, max: 1 << 20 };
        let spec = NodeSpec::new("test.footprint", "test", "a probe")
            .input("image", PortType::Image, "images")
            .input("mask", PortType::Mask, "a mask")
            .param(ParamSpec::new("width", int.clone(), ParamValue::Int(1), "w"))
            .param(ParamSpec::new("height", int, ParamValue::Int(1), "h"));
        let node = CpuNode::new(spec, mark).footprint(footprint);
        let mut wired = vec![("image", inputs)];
        wired.extend(mask_in.map(|m| ("mask", vec![m])));
        let params = vec![("width", ParamValue::Int(side)), ("height", ParamValue::Int(side))];
        let ctx = NodeContext::standalone("n", wired, params, PathRoots::new(".", "."));
        RAN_HERE.with(|here| here.set(false));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(node.run(ctx)).unwrap();
        RAN_HERE.with(Cell::get)
    }

    #[test]
    fn small_cpu_work_runs_at_once_and_the_rest_on_the_blocking_pool() {
        let cases = [
            ("a 1x1 image in", Footprint::Inputs, vec![image(1)], None, 4096, true),
            ("32x32 in, at the line", Footprint::Inputs, vec![image(32)], None, 1, true),
            ("33x33 in", Footprint::Inputs, vec![image(33)], None, 1, false),
            ("two 30x30 in, counted together", Footprint::Inputs, vec![image(30), image(30)], None, 1, false),
            ("a mask counts too", Footprint::Inputs, vec![image(30)], Some(mask(30)), 1, false),
            ("a 32x32 image made", Footprint::SizeParams, vec![], None, 32, true),
            ("a 4096x4096 image made", Footprint::SizeParams, vec![], None, 4096, false),
            ("an unknown footprint", Footprint::Unknown, vec![image(1)], None, 1, false),
        ];
        for (case, footprint, inputs, mask_in, side, at_once) in cases {
            assert_eq!(ran_at_once(footprint, inputs, mask_in, side), at_once, "{case}");
        }
    }
}
