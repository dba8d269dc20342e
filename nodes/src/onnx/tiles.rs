//! Auto tiling: large images run through a model in overlapping tiles, blended across the
//! overlaps with linear ramps, so the model's memory stays bounded by the tile size.

use rayon::prelude::*;
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

/// Tiled output under construction, one band of tile rows at a time: weighted sums for the
/// output rows that tiles still reach. Rows above the current tile row are final and go out,
/// so memory stays at a band (a tile's height across the image), not the whole output.
///
/// The tiles form a grid, so the total weight at a pixel is the product of a column weight
/// and a row weight; two small vectors replace a per-pixel weight plane.
pub struct Blender {
    width: usize,
    channels: usize,
    scale: u32,
    ramp: f32,
    col_weight: Vec<f32>,
    row_weight: Vec<f32>,
    /// The output row that `sum` starts at.
    top: usize,
    sum: Vec<f32>,
}

impl Blender {
    /// An output of `w * scale` x `h * scale` pixels with `channels` values each, for the
    /// tiles of [`plan`] with this `overlap` (as [`effective_overlap`] gives it).
    pub fn new(w: u32, h: u32, scale: u32, channels: usize, overlap: u32, tiles: &[Tile]) -> Self {
        let (ow, oh) = (w as usize * scale as usize, h as usize * scale as usize);
        let ramp_px = (2 * overlap * scale) as f32;
        let mut col_weight = vec![0.0; ow];
        let mut row_weight = vec![0.0; oh];
        let first = tiles.first().map(|t| t.src);
        for t in tiles {
            let (x0, w, y0, h) = (
                (t.src.x * scale) as usize,
                (t.src.w * scale) as usize,
                (t.src.y * scale) as usize,
                (t.src.h * scale) as usize,
            );
            let [left, right, top, bottom] = t.interior;
            if first.is_some_and(|f| f.y == t.src.y) {
                for x in 0..w {
                    col_weight[x0 + x] += ramp(x, w, left, right, ramp_px);
                }
            }
            if first.is_some_and(|f| f.x == t.src.x) {
                for y in 0..h {
                    row_weight[y0 + y] += ramp(y, h, top, bottom, ramp_px);
                }
            }
        }
        Self { width: ow, channels, scale, ramp: ramp_px, col_weight, row_weight, top: 0, sum: Vec::new() }
    }

    /// Adds a tile's output (`channels` values per pixel, `tile.src` scaled up). Tiles must
    /// come in [`plan`]'s order, row by row.
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
        let row_len = self.width * self.channels;
        let end = (oy + th - self.top) * row_len;
        if oy < self.top {
            return Err(NodeError::Internal("a tile came after its rows were written out".into()));
        }
        if self.sum.len() < end {
            self.sum.resize(end, 0.0);
        }
        let [left, right, top, bottom] = tile.interior;
        let ch = self.channels;
        let col: Vec<f32> = (0..tw).map(|x| ramp(x, tw, left, right, self.ramp)).collect();
        for (y, src) in out.chunks_exact(tw * ch).enumerate() {
            let wy = ramp(y, th, top, bottom, self.ramp);
            let dst = &mut self.sum[(oy + y - self.top) * row_len + ox * ch..][..tw * ch];
            for ((d, s), wx) in dst.chunks_exact_mut(ch).zip(src.chunks_exact(ch)).zip(&col) {
                let w = wy * wx;
                for c in 0..ch {
                    d[c] += s[c] * w;
                }
            }
        }
        Ok(())
    }

    /// Normalises and hands out every row above output row `before` (all rows when `None`):
    /// `emit(first_row, values)`, `channels` values per pixel.
    pub fn flush(
        &mut self,
        before: Option<usize>,
        emit: &mut impl FnMut(usize, &[f32]) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let row_len = self.width * self.channels;
        let held = self.sum.len() / row_len.max(1);
        let rows = before.map_or(held, |b| b.saturating_sub(self.top).min(held));
        if rows == 0 {
            return Ok(());
        }
        let (top, ch) = (self.top, self.channels);
        let (cols, weights) = (&self.col_weight, &self.row_weight[top..top + rows]);
        let done = &mut self.sum[..rows * row_len];
        done.par_chunks_mut(row_len).zip(weights).with_min_len(super::tensor::rows_per_job(row_len)).for_each(
            |(row, wy)| {
                for (px, wx) in row.chunks_exact_mut(ch).zip(cols) {
                    let total = wy * wx;
                    let inv = if total > 0.0 { 1.0 / total } else { 0.0 };
                    px.iter_mut().for_each(|v| *v *= inv);
                }
            },
        );
        emit(top, done)?;
        self.sum.drain(..rows * row_len);
        self.top += rows;
        Ok(())
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
            let mut b = Blender::new(w, h, 2, 1, effective_overlap(tile, overlap), &tiles);
            let mut out = vec![f32::NAN; (w * 2 * h * 2) as usize];
            let mut emit = |y0: usize, rows: &[f32]| {
                out[y0 * (w * 2) as usize..][..rows.len()].copy_from_slice(rows);
                Ok(())
            };
            for t in &tiles {
                assert!(t.src.w <= tile && t.src.h <= tile);
                b.flush(Some((t.src.y * 2) as usize), &mut emit).unwrap();
                b.add(t, &vec![0.75; (t.src.w * 2 * t.src.h * 2) as usize]).unwrap();
            }
            b.flush(None, &mut emit).unwrap();
            assert!(out.iter().all(|v| (v - 0.75).abs() < 1e-5), "{w}x{h} tile {tile}");
        }
    }
}
