//! Auto tiling: large images run through a model in overlapping tiles, blended across the
//! overlaps with linear ramps, so the model's memory stays bounded by the tile size.

use switchyard_engine::NodeError;

use super::tensor::Rect;

/// The smallest tile side the automatic halving goes down to.
pub const MIN_TILE: u32 = 32;

/// One tile: the region read, and which of its sides border another tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// The input region.
    pub src: Rect,
    /// Sides that overlap a neighbour: left, right, top, bottom.
    pub interior: [bool; 4],
}

/// The overlap actually used with tiles of side `tile`: at most a quarter of the tile, so
/// every tile keeps a core. The planner and the blender must both use this value.
pub fn effective_overlap(tile: u32, overlap: u32) -> u32 {
    overlap.min(tile / 4)
}

/// Covers a `w` x `h` image with tiles of at most `tile` pixels a side that overlap their
/// neighbours by `2 * effective_overlap(tile, overlap)` pixels.
pub fn plan(w: u32, h: u32, tile: u32, overlap: u32) -> Vec<Tile> {
    let overlap = effective_overlap(tile, overlap);
    let core = (tile - 2 * overlap).max(1);
    let starts = |len: u32| (0..len).step_by(core as usize).collect::<Vec<_>>();
    let mut tiles = Vec::new();
    for &y in &starts(h) {
        for &x in &starts(w) {
            let (x0, y0) = (x.saturating_sub(overlap), y.saturating_sub(overlap));
            let (x1, y1) = ((x + core + overlap).min(w), (y + core + overlap).min(h));
            let src = Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
            tiles.push(Tile { src, interior: [x0 > 0, x1 < w, y0 > 0, y1 < h] });
        }
    }
    tiles
}

/// Tiled output under construction: weighted sums and weights per output pixel.
pub struct Blender {
    width: u32,
    channels: usize,
    scale: u32,
    ramp: f32,
    sum: Vec<f32>,
    weight: Vec<f32>,
}

impl Blender {
    /// An output of `w * scale` x `h * scale` pixels with `channels` values each; tiles
    /// overlap by `overlap` input pixels on each interior side.
    pub fn new(w: u32, h: u32, scale: u32, channels: usize, overlap: u32) -> Self {
        let (ow, oh) = (w as usize * scale as usize, h as usize * scale as usize);
        Self {
            width: ow as u32,
            channels,
            scale,
            ramp: (2 * overlap * scale) as f32,
            sum: vec![0.0; ow * oh * channels],
            weight: vec![0.0; ow * oh],
        }
    }

    /// Adds a tile's output (`channels` values per pixel, `tile.src` scaled up).
    pub fn add(&mut self, tile: &Tile, out: &[f32]) -> Result<(), NodeError> {
        let (tw, th) = ((tile.src.w * self.scale) as usize, (tile.src.h * self.scale) as usize);
        if out.len() != tw * th * self.channels {
            return Err(NodeError::Failed(format!(
                "a {}x{} tile gave {} values; expected {tw}x{th}x{} (is the manifest's scale right?)",
                tile.src.w,
                tile.src.h,
                out.len(),
                self.channels
            )));
        }
        let (ox, oy) = ((tile.src.x * self.scale) as usize, (tile.src.y * self.scale) as usize);
        let [left, right, top, bottom] = tile.interior;
        for y in 0..th {
            let wy = ramp(y, th, top, bottom, self.ramp);
            for x in 0..tw {
                let w = wy * ramp(x, tw, left, right, self.ramp);
                let dst = (oy + y) * self.width as usize + ox + x;
                self.weight[dst] += w;
                for c in 0..self.channels {
                    self.sum[dst * self.channels + c] += out[(y * tw + x) * self.channels + c] * w;
                }
            }
        }
        Ok(())
    }

    /// The blended output: `channels` values per pixel.
    pub fn finish(mut self) -> (u32, u32, Vec<f32>) {
        for (i, w) in self.weight.iter().enumerate() {
            let inv = if *w > 0.0 { 1.0 / w } else { 0.0 };
            for v in &mut self.sum[i * self.channels..(i + 1) * self.channels] {
                *v *= inv;
            }
        }
        let height = (self.weight.len() / self.width as usize) as u32;
        (self.width, height, self.sum)
    }
}

/// A tile pixel's weight along one axis. On an interior side the overlap is `ramp` pixels wide:
/// its outer quarter gets no weight (a model's edge padding spoils those pixels), then the
/// weight rises linearly over the middle half. A neighbour's weight falls over the same
/// pixels, so the two always sum to 1.
fn ramp(p: usize, len: usize, interior_lo: bool, interior_hi: bool, ramp: f32) -> f32 {
    if ramp <= 0.0 {
        return 1.0;
    }
    let (margin, rise) = (ramp / 4.0, ramp / 2.0);
    let lo = if interior_lo { (p as f32 + 0.5 - margin) / rise } else { 1.0 };
    let hi = if interior_hi { ((len - p) as f32 - 0.5 - margin) / rise } else { 1.0 };
    lo.min(hi).clamp(0.0, 1.0)
}

/// Whether an inference error means the tile was too big for memory.
pub fn is_allocation_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("failed to allocate") || m.contains("bad_alloc") || m.contains("out of memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_every_pixel_and_blending_a_constant_keeps_it() {
        for (w, h, tile, overlap) in [(100, 70, 32, 8), (33, 17, 16, 2), (10, 10, 256, 16), (64, 64, 32, 0)] {
            let tiles = plan(w, h, tile, overlap);
            let mut b = Blender::new(w, h, 2, 1, effective_overlap(tile, overlap));
            for t in &tiles {
                assert!(t.src.w <= tile && t.src.h <= tile);
                b.add(t, &vec![0.75; (t.src.w * 2 * t.src.h * 2) as usize]).unwrap();
            }
            let (ow, oh, out) = b.finish();
            assert_eq!((ow, oh), (w * 2, h * 2));
            assert!(out.iter().all(|v| (v - 0.75).abs() < 1e-5), "{w}x{h} tile {tile}");
        }
    }
}
