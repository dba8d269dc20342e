//! The output image of an ONNX node, filled a band of rows at a time. Outputs above the
//! engine's `f32` pixel limit are stored as half floats, so an 8K 2x upscale (133 MP) takes
//! 1 GiB rather than 2.

use std::sync::Arc;

use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;
use switchyard_engine::{Image, Mask, NodeError, Value};

use super::tensor::rows_per_job;
use crate::kit::{MAX_PIXELS, MAX_SIDE};

/// An output under construction.
pub struct Sink<'a> {
    width: usize,
    height: usize,
    pixels: Pixels,
    /// The input, for its alpha; `None` when it is opaque.
    alpha_from: Option<&'a Image>,
}

enum Pixels {
    Mask(Vec<f32>),
    Rgba32(Arc<[f32]>),
    Rgba16(Arc<[f16]>),
}

impl<'a> Sink<'a> {
    /// An output of `width` x `height`: a mask, or an image taking `input`'s alpha, held as
    /// half floats above `MAX_PIXELS`.
    pub fn new(input: &'a Image, width: u32, height: u32, mask: bool) -> Result<Self, NodeError> {
        Self::with_half_above(input, width, height, mask, MAX_PIXELS)
    }

    fn with_half_above(
        input: &'a Image,
        width: u32,
        height: u32,
        mask: bool,
        half_above_pixels: u64,
    ) -> Result<Self, NodeError> {
        let pixels = u64::from(width) * u64::from(height);
        // The side limit bounds a half-float image at 16K by 16K (2 GiB).
        if width > MAX_SIDE || height > MAX_SIDE || (mask && pixels > MAX_PIXELS) {
            return Err(NodeError::Invalid(format!(
                "the model's output would be {width}x{height}; the limit is {MAX_SIDE} per side (resize the input first)"
            )));
        }
        let n = pixels as usize;
        let store = match (mask, pixels > half_above_pixels) {
            (true, _) => Pixels::Mask(vec![0.0; n]),
            (false, false) => Pixels::Rgba32(std::iter::repeat_n(0.0, n * 4).collect()),
            (false, true) => Pixels::Rgba16(std::iter::repeat_n(f16::ZERO, n * 4).collect()),
        };
        let alpha_from = (!mask && !input.is_opaque()).then_some(input);
        Ok(Self { width: width as usize, height: height as usize, pixels: store, alpha_from })
    }

    /// Writes finished rows from `first_row` on: interleaved linear RGB, or mask values.
    pub fn write_rows(&mut self, first_row: usize, values: &[f32]) -> Result<(), NodeError> {
        let channels = if matches!(self.pixels, Pixels::Mask(_)) { 1 } else { 3 };
        let row_len = self.width * channels;
        self.fill_rows(first_row, values.len() / row_len.max(1), |y, out| {
            out.copy_from_slice(&values[y * row_len..][..row_len]);
        })
    }

    /// Fills `rows` rows from `first_row` on, asking `read(row_offset, out)` for each row's
    /// RGB (or mask) values and adding alpha; rows are filled in parallel.
    pub fn fill_rows(
        &mut self,
        first_row: usize,
        rows: usize,
        read: impl Fn(usize, &mut [f32]) + Sync,
    ) -> Result<(), NodeError> {
        if first_row + rows > self.height {
            return Err(NodeError::Internal(format!("rows {first_row}+{rows} past a {}-row output", self.height)));
        }
        let (w, alpha) = (self.width, AlphaRows::new(self.alpha_from, self.width, self.height));
        let range = first_row * w..(first_row + rows) * w;
        let unshared = || NodeError::Internal("the output buffer is shared while being written".into());
        match &mut self.pixels {
            Pixels::Mask(values) => values[range].par_chunks_mut(w).enumerate().for_each(|(y, row)| read(y, row)),
            Pixels::Rgba32(px) => {
                let px = Arc::get_mut(px).ok_or_else(unshared)?;
                fill_rgba(&mut px[range.start * 4..range.end * 4], w, first_row, &alpha, &read, |d, s| {
                    d.copy_from_slice(s)
                });
            }
            Pixels::Rgba16(px) => {
                let px = Arc::get_mut(px).ok_or_else(unshared)?;
                fill_rgba(&mut px[range.start * 4..range.end * 4], w, first_row, &alpha, &read, |d, s| {
                    d.convert_from_f32_slice(s)
                });
            }
        }
        Ok(())
    }

    /// The finished value.
    pub fn finish(self) -> Result<Value, NodeError> {
        let (w, h) = (self.width as u32, self.height as u32);
        let internal = |e: switchyard_engine::ValueError| NodeError::Internal(e.to_string());
        Ok(match self.pixels {
            Pixels::Mask(v) => Value::Mask(Mask::new(w, h, v).map_err(internal)?),
            Pixels::Rgba32(px) => Value::Image(Image::from_shared(w, h, px).map_err(internal)?),
            Pixels::Rgba16(px) => Value::Image(Image::from_half(w, h, px).map_err(internal)?),
        })
    }
}

/// Fills RGBA rows of any storage through an `f32` row buffer.
fn fill_rgba<T: Send>(
    out: &mut [T],
    w: usize,
    first_row: usize,
    alpha: &AlphaRows<'_>,
    read: &(impl Fn(usize, &mut [f32]) + Sync),
    store: impl Fn(&mut [T], &[f32]) + Sync,
) {
    let rows = out.par_chunks_mut(w * 4).enumerate().with_min_len(rows_per_job(w * 4));
    rows.for_each_init(
        || (vec![0.0f32; w * 3], vec![0.0f32; w * 4], Vec::new()),
        |(rgb, rgba, scratch), (y, dst)| {
            read(y, rgb);
            alpha.fill(first_row + y, rgba, scratch);
            for (d, s) in rgba.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
                d[..3].copy_from_slice(s);
            }
            store(dst, rgba);
        },
    );
}

/// The input's alpha resampled (bilinear, pixel centres aligned) to the output size, a row
/// at a time, or opaque.
struct AlphaRows<'a> {
    input: Option<&'a Image>,
    sx: f32,
    sy: f32,
}

impl<'a> AlphaRows<'a> {
    fn new(input: Option<&'a Image>, width: usize, height: usize) -> Self {
        let (sx, sy) =
            input.map_or((1.0, 1.0), |i| (i.width() as f32 / width as f32, i.height() as f32 / height as f32));
        Self { input, sx, sy }
    }

    /// Writes alpha into every fourth value of `rgba` for output row `y`.
    fn fill(&self, y: usize, rgba: &mut [f32], scratch: &mut Vec<f32>) {
        let Some(img) = self.input else {
            rgba.chunks_exact_mut(4).for_each(|p| p[3] = 1.0);
            return;
        };
        let (y0, y1, fy) = taps(y, self.sy, img.height());
        let mut lower = Vec::new();
        let upper: Vec<f32> = img.row(y1, 0, img.width(), scratch).chunks_exact(4).map(|p| p[3]).collect();
        lower.extend(img.row(y0, 0, img.width(), scratch).chunks_exact(4).map(|p| p[3]));
        for (x, p) in rgba.chunks_exact_mut(4).enumerate() {
            let (x0, x1, fx) = taps(x, self.sx, img.width());
            let top = lower[x0 as usize] + (lower[x1 as usize] - lower[x0 as usize]) * fx;
            let bottom = upper[x0 as usize] + (upper[x1 as usize] - upper[x0 as usize]) * fx;
            p[3] = top + (bottom - top) * fy;
        }
    }
}

/// The two input samples around output position `p` and the weight of the second.
fn taps(p: usize, step: f32, len: u32) -> (u32, u32, f32) {
    let at = ((p as f32 + 0.5) * step - 0.5).clamp(0.0, (len - 1) as f32);
    let i = at as u32;
    (i, (i + 1).min(len - 1), at - i as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, alpha: impl Fn(u32) -> f32) -> Image {
        Image::new(w, h, (0..w * h).flat_map(|i| [(i % w) as f32 / w as f32, 0.5, 0.25, alpha(i % w)]).collect())
            .unwrap()
    }

    /// Fills a 2x output of `input` from its own RGB, nearest neighbour, a band at a time.
    fn upscale_through(sink: &mut Sink<'_>, input: &Image) {
        let src = input.pixels();
        let w = input.width() as usize;
        for band in [0..3, 3..8] {
            let rows: Vec<f32> = band
                .clone()
                .flat_map(|y| (0..w * 2).flat_map(move |x| (0..3).map(move |c| (y / 2, x / 2, c))))
                .map(|(y, x, c)| src[(y * w + x) * 4 + c])
                .collect();
            sink.write_rows(band.start, &rows).unwrap();
        }
    }

    #[test]
    fn large_outputs_are_stored_as_half_floats_with_the_same_values() {
        let input = gradient(6, 4, |_| 1.0);
        let mut full = Sink::with_half_above(&input, 12, 8, false, u64::MAX).unwrap();
        let mut half = Sink::with_half_above(&input, 12, 8, false, 10).unwrap();
        upscale_through(&mut full, &input);
        upscale_through(&mut half, &input);
        let (Value::Image(full), Value::Image(half)) = (full.finish().unwrap(), half.finish().unwrap()) else {
            panic!("images expected");
        };
        assert!(matches!(full.store(), switchyard_engine::PixelStore::F32(_)));
        assert!(matches!(half.store(), switchyard_engine::PixelStore::F16(_)));
        for (a, b) in full.pixels().iter().zip(half.pixels().iter()) {
            assert!((a - b).abs() <= a.abs() / 1024.0, "{a} vs {b}");
        }
        assert!(half.is_opaque());
    }

    #[test]
    fn alpha_is_resampled_from_the_input_row_by_row() {
        let input = gradient(6, 4, |x| if x < 3 { 1.0 } else { 0.25 });
        let mut sink = Sink::new(&input, 12, 8, false).unwrap();
        upscale_through(&mut sink, &input);
        let Value::Image(out) = sink.finish().unwrap() else { panic!("image expected") };
        let alpha = |x: usize, y: usize| out.pixels()[(y * 12 + x) * 4 + 3];
        assert_eq!((alpha(0, 0), alpha(11, 7)), (1.0, 0.25));
        assert!(alpha(6, 3) > 0.25 && alpha(6, 3) < 1.0, "the edge is blended");
    }

    #[test]
    fn oversized_outputs_and_rows_past_the_end_are_errors() {
        let input = gradient(2, 2, |_| 1.0);
        assert!(Sink::new(&input, MAX_SIDE + 1, 2, false).is_err());
        let mut sink = Sink::new(&input, 2, 2, false).unwrap();
        assert!(sink.write_rows(1, &[0.0; 12]).is_err());
    }
}
