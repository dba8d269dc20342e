//! Engine images to model tensors and back, following a manifest's layout, colour and range.

use switchyard_engine::NodeError;

use super::manifest::{Layout, Manifest, ValueRange};
use crate::color::SrgbTables;

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

/// Packs a region of linear RGBA pixels (row stride `stride_px`) into a `[1, 3, h, w]` or
/// `[1, h, w, 3]` tensor, as the model expects.
pub fn pack(pixels: &[f32], stride_px: u32, r: Rect, m: &Manifest) -> ([usize; 4], Vec<f32>) {
    let (w, h) = (r.w as usize, r.h as usize);
    let plane = w * h;
    let codec = Codec::new(m);
    let mut data = vec![0.0f32; plane * 3];
    for y in 0..h {
        let row = &pixels[((r.y as usize + y) * stride_px as usize + r.x as usize) * 4..][..w * 4];
        for (x, px) in row.chunks_exact(4).enumerate() {
            for c in 0..3 {
                let v = codec.encode(px[if m.bgr { 2 - c } else { c }], c);
                let dst = match m.layout {
                    Layout::Nchw => c * plane + y * w + x,
                    Layout::Nhwc => (y * w + x) * 3 + c,
                };
                data[dst] = v;
            }
        }
    }
    let shape = match m.layout {
        Layout::Nchw => [1, 3, h, w],
        Layout::Nhwc => [1, h, w, 3],
    };
    (shape, data)
}

/// Reads a 3-channel output tensor back into interleaved linear RGB: `(width, height, values)`.
pub fn unpack_rgb(shape: &[i64], data: &[f32], m: &Manifest) -> Result<(u32, u32, Vec<f32>), NodeError> {
    let (h, w) = match (m.layout, shape) {
        (Layout::Nchw, [1, 3, h, w]) | (Layout::Nhwc, [1, h, w, 3]) => (*h as usize, *w as usize),
        _ => return Err(shape_error(shape, m, "3 channels")),
    };
    let plane = w * h;
    if data.len() != plane * 3 {
        return Err(shape_error(shape, m, "3 channels"));
    }
    let codec = Codec::new(m);
    let mut out = vec![0.0f32; plane * 3];
    for c in 0..3 {
        let dst_c = if m.bgr { 2 - c } else { c };
        match m.layout {
            Layout::Nchw => {
                for (i, raw) in data[c * plane..(c + 1) * plane].iter().enumerate() {
                    out[i * 3 + dst_c] = codec.decode(*raw, c);
                }
            }
            Layout::Nhwc => {
                for i in 0..plane {
                    out[i * 3 + dst_c] = codec.decode(data[i * 3 + c], c);
                }
            }
        }
    }
    Ok((w as u32, h as u32, out))
}

/// Reads a 3-channel output tensor straight into the final RGBA buffer, alpha taken from
/// `alpha` (one value per output pixel) or opaque: one pass, one allocation.
pub fn unpack_rgba(
    shape: &[i64],
    data: &[f32],
    m: &Manifest,
    alpha: Option<&[f32]>,
) -> Result<(u32, u32, std::sync::Arc<[f32]>), NodeError> {
    let (h, w) = match (m.layout, shape) {
        (Layout::Nchw, [1, 3, h, w]) | (Layout::Nhwc, [1, h, w, 3]) => (*h as usize, *w as usize),
        _ => return Err(shape_error(shape, m, "3 channels")),
    };
    let plane = w * h;
    if data.len() != plane * 3 || alpha.is_some_and(|a| a.len() != plane) {
        return Err(shape_error(shape, m, "3 channels"));
    }
    let codec = Codec::new(m);
    let pixels = (0..plane * 4)
        .map(|k| {
            let (i, c) = (k / 4, k % 4);
            if c == 3 {
                return alpha.map_or(1.0, |a| a[i]);
            }
            let src_c = if m.bgr { 2 - c } else { c };
            let raw = match m.layout {
                Layout::Nchw => data[src_c * plane + i],
                Layout::Nhwc => data[i * 3 + src_c],
            };
            codec.decode(raw, src_c)
        })
        .collect();
    Ok((w as u32, h as u32, pixels))
}

/// Reads a one-channel output tensor as mask values in 0..1.
pub fn unpack_mask(shape: &[i64], data: &[f32], m: &Manifest) -> Result<(u32, u32, Vec<f32>), NodeError> {
    let (h, w) = match shape {
        [1, 1, h, w] | [1, h, w, 1] | [1, h, w] | [h, w] => (*h as usize, *w as usize),
        _ => return Err(shape_error(shape, m, "1 channel")),
    };
    if data.len() != h * w {
        return Err(shape_error(shape, m, "1 channel"));
    }
    Ok((w as u32, h as u32, data.iter().map(|v| v.clamp(0.0, 1.0)).collect()))
}

fn shape_error(shape: &[i64], m: &Manifest, wanted: &str) -> NodeError {
    NodeError::Failed(format!(
        "model {:?} gave output {:?} of shape {shape:?}; its manifest promises {wanted} in {:?} layout (check tensors.output and tensors.layout)",
        m.name, m.output, m.layout
    ))
}

/// A manifest's value mapping with the sRGB tables fetched once.
struct Codec {
    tables: SrgbTables,
    srgb: bool,
    range: ValueRange,
}

impl Codec {
    fn new(m: &Manifest) -> Self {
        Self { tables: SrgbTables::get(), srgb: m.srgb, range: m.range }
    }

    #[inline]
    fn encode(&self, linear: f32, c: usize) -> f32 {
        let v = if self.srgb { self.tables.encode(linear) } else { linear };
        match self.range {
            ValueRange::Unit => v,
            ValueRange::Signed => v * 2.0 - 1.0,
            ValueRange::MeanStd { mean, std } => (v - mean[c]) / std[c],
        }
    }

    #[inline]
    fn decode(&self, raw: f32, c: usize) -> f32 {
        let v = match self.range {
            ValueRange::Unit => raw,
            ValueRange::Signed => (raw + 1.0) / 2.0,
            ValueRange::MeanStd { mean, std } => raw * std[c] + mean[c],
        };
        if self.srgb { self.tables.decode(v) } else { v }
    }
}
