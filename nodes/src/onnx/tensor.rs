//! Engine images to model tensors and back, following a manifest's layout, colour and range.
//! Rows are converted in parallel: on a fast model this work costs as much as the inference.

use multiversion::multiversion;
use rayon::prelude::*;
use switchyard_engine::{Image, NodeError};

use super::manifest::{Layout, Manifest, ValueRange};
use crate::color::{linear_unit_to_srgb, srgb_unit_to_linear};

/// A region of an image, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Rows go to one parallel job in groups of about this many values, so small tiles stay on
/// one thread.
const VALUES_PER_JOB: usize = 1 << 16;

/// Rows per parallel job for rows of `row_len` values.
pub fn rows_per_job(row_len: usize) -> usize {
    (VALUES_PER_JOB / row_len.max(1)).max(1)
}

/// Packs a region of an image into a `[1, 3, h, w]` or `[1, h, w, 3]` tensor, as the model expects.
pub fn pack(img: &Image, r: Rect, m: &Manifest) -> ([usize; 4], Vec<f32>) {
    let (w, h) = (r.w as usize, r.h as usize);
    let codec = Codec::new(m);
    let mut data = vec![0.0f32; w * h * 3];
    let per_job = rows_per_job(w * 3);
    match m.layout {
        Layout::Nchw => {
            let (p0, rest) = data.split_at_mut(w * h);
            let (p1, p2) = rest.split_at_mut(w * h);
            let rows = p0.par_chunks_mut(w).zip(p1.par_chunks_mut(w)).zip(p2.par_chunks_mut(w));
            rows.enumerate().with_min_len(per_job).for_each_init(Vec::new, |scratch, (y, ((d0, d1), d2))| {
                let src = img.row(r.y + y as u32, r.x, r.w, scratch);
                let [o0, o1, o2] = codec.order;
                for (x, px) in src.chunks_exact(4).enumerate() {
                    (d0[x], d1[x], d2[x]) = (px[o0], px[o1], px[o2]);
                }
                codec.encode_plane(d0, 0);
                codec.encode_plane(d1, 1);
                codec.encode_plane(d2, 2);
            });
        }
        Layout::Nhwc => {
            let rows = data.par_chunks_mut(w * 3).enumerate().with_min_len(per_job);
            rows.for_each_init(Vec::new, |scratch, (y, dst)| {
                let src = img.row(r.y + y as u32, r.x, r.w, scratch);
                let [o0, o1, o2] = codec.order;
                for (d, px) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&[px[o0], px[o1], px[o2]]);
                }
                codec.encode_interleaved(dst);
            });
        }
    }
    let shape = match m.layout {
        Layout::Nchw => [1, 3, h, w],
        Layout::Nhwc => [1, h, w, 3],
    };
    (shape, data)
}

/// A 3-channel output tensor, checked against the manifest, read back a row at a time.
pub struct RgbTensor<'a> {
    data: &'a [f32],
    layout: Layout,
    codec: Codec,
    /// Width and height.
    pub size: (u32, u32),
}

impl<'a> RgbTensor<'a> {
    /// Checks the output's shape against the manifest's layout.
    pub fn new(shape: &[i64], data: &'a [f32], m: &Manifest) -> Result<Self, NodeError> {
        let (h, w) = match (m.layout, shape) {
            (Layout::Nchw, [1, 3, h, w]) | (Layout::Nhwc, [1, h, w, 3]) => (*h, *w),
            _ => return Err(shape_error(shape, m, "3 channels")),
        };
        let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
            return Err(shape_error(shape, m, "3 channels"));
        };
        if data.len() != w as usize * h as usize * 3 {
            return Err(shape_error(shape, m, "3 channels"));
        }
        Ok(Self { data, layout: m.layout, codec: Codec::new(m), size: (w, h) })
    }

    /// Row `y` as interleaved linear RGB, into `out` (three values per pixel).
    pub fn read_row(&self, y: usize, out: &mut [f32]) {
        let w = self.size.0 as usize;
        let c = &self.codec;
        match self.layout {
            Layout::Nchw => {
                let plane = w * self.size.1 as usize;
                let mut decoded = vec![0.0; w];
                for ch in 0..3 {
                    c.decode_plane(&self.data[ch * plane + y * w..][..w], &mut decoded, ch);
                    let dst = c.order[ch];
                    for (d, v) in out.chunks_exact_mut(3).zip(&decoded) {
                        d[dst] = *v;
                    }
                }
            }
            Layout::Nhwc => {
                for (d, s) in out.chunks_exact_mut(3).zip(self.data[y * w * 3..][..w * 3].chunks_exact(3)) {
                    for ch in 0..3 {
                        d[c.order[ch]] = c.decode(s[ch], ch);
                    }
                }
            }
        }
    }

    /// The whole tensor as interleaved linear RGB.
    pub fn to_rgb(&self) -> Vec<f32> {
        let w = self.size.0 as usize * 3;
        let mut out = vec![0.0; w * self.size.1 as usize];
        let rows = out.par_chunks_mut(w).enumerate().with_min_len(rows_per_job(w));
        rows.for_each(|(y, row)| self.read_row(y, row));
        out
    }
}

/// Reads a one-channel output tensor as mask values in 0..1.
pub fn unpack_mask(shape: &[i64], data: &[f32], m: &Manifest) -> Result<(u32, u32, Vec<f32>), NodeError> {
    let (h, w) = match shape {
        [1, 1, h, w] | [1, h, w, 1] | [1, h, w] | [h, w] => (*h, *w),
        _ => return Err(shape_error(shape, m, "1 channel")),
    };
    let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(shape_error(shape, m, "1 channel"));
    };
    if data.len() != w as usize * h as usize {
        return Err(shape_error(shape, m, "1 channel"));
    }
    Ok((w, h, data.iter().map(|v| v.clamp(0.0, 1.0)).collect()))
}

fn shape_error(shape: &[i64], m: &Manifest, wanted: &str) -> NodeError {
    NodeError::Failed(format!(
        "model {:?} gave output {:?} of shape {shape:?}; its manifest promises {wanted} in {:?} layout (check tensors.output and tensors.layout)",
        m.name, m.output, m.layout
    ))
}

/// A manifest's value mapping, reduced to a multiply-add per channel, with the sRGB tables
/// fetched once.
#[derive(Clone, Copy)]
struct Codec {
    srgb: bool,
    /// The image channel that feeds model channel `c` (BGR models swap red and blue).
    order: [usize; 3],
    /// Model value = encoded * scale + offset ...
    scale: [f32; 3],
    offset: [f32; 3],
    /// ... and encoded = model value * back_scale + back_offset.
    back_scale: [f32; 3],
    back_offset: [f32; 3],
}

impl Codec {
    fn new(m: &Manifest) -> Self {
        let ([scale, offset], [back_scale, back_offset]) = match m.range {
            ValueRange::Unit => ([[1.0; 3], [0.0; 3]], [[1.0; 3], [0.0; 3]]),
            ValueRange::Signed => ([[2.0; 3], [-1.0; 3]], [[0.5; 3], [0.5; 3]]),
            ValueRange::MeanStd { mean, std } => {
                ([std::array::from_fn(|c| 1.0 / std[c]), std::array::from_fn(|c| -mean[c] / std[c])], [std, mean])
            }
        };
        let order = if m.bgr { [2, 1, 0] } else { [0, 1, 2] };
        Self { srgb: m.srgb, order, scale, offset, back_scale, back_offset }
    }

    /// Model values of channel `c` from linear light, in place.
    fn encode_plane(&self, values: &mut [f32], c: usize) {
        encode_values(values, self.srgb, self.scale[c], self.offset[c]);
    }

    /// Model values from linear light for interleaved RGB.
    fn encode_interleaved(&self, values: &mut [f32]) {
        for px in values.chunks_exact_mut(3) {
            for (c, v) in px.iter_mut().enumerate() {
                let e = if self.srgb { linear_unit_to_srgb(*v) } else { *v };
                *v = e * self.scale[c] + self.offset[c];
            }
        }
    }

    /// Channel `c`'s model values back to linear light.
    fn decode_plane(&self, raw: &[f32], out: &mut [f32], c: usize) {
        decode_values(raw, out, self.srgb, self.back_scale[c], self.back_offset[c]);
    }

    /// One model value of channel `c` back to linear light.
    #[inline]
    fn decode(&self, raw: f32, c: usize) -> f32 {
        let v = raw * self.back_scale[c] + self.back_offset[c];
        if self.srgb { srgb_unit_to_linear(v) } else { v }
    }
}

/// `v * k + o` after the sRGB curve (when `srgb`), in place. One tight loop, compiled for
/// AVX2 and FMA too and picked at run time: it runs about three times faster there.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn encode_values(values: &mut [f32], srgb: bool, k: f32, o: f32) {
    if srgb {
        values.iter_mut().for_each(|v| *v = linear_unit_to_srgb(*v) * k + o);
    } else {
        values.iter_mut().for_each(|v| *v = *v * k + o);
    }
}

/// The inverse of [`encode_values`], from `raw` into `out`.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn decode_values(raw: &[f32], out: &mut [f32], srgb: bool, k: f32, o: f32) {
    if srgb {
        out.iter_mut().zip(raw).for_each(|(d, v)| *d = srgb_unit_to_linear(*v * k + o));
    } else {
        out.iter_mut().zip(raw).for_each(|(d, v)| *d = *v * k + o);
    }
}
