//! Engine images to model tensors and back, following a manifest's layout, colour and range.

use switchyard_engine::NodeError;

use super::manifest::{Layout, Manifest, ValueRange};
use crate::color::{linear_to_srgb, srgb_to_linear};

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
    let mut data = vec![0.0f32; plane * 3];
    for y in 0..h {
        for x in 0..w {
            let src = ((r.y as usize + y) * stride_px as usize + r.x as usize + x) * 4;
            for c in 0..3 {
                let channel = if m.bgr { 2 - c } else { c };
                let v = encode(pixels[src + channel], c, m);
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

/// Reads a 3-channel output tensor of `w` x `h` back into linear RGB triples.
pub fn unpack_rgb(shape: &[i64], data: &[f32], m: &Manifest) -> Result<(u32, u32, Vec<[f32; 3]>), NodeError> {
    let (h, w) = match (m.layout, shape) {
        (Layout::Nchw, [1, 3, h, w]) | (Layout::Nhwc, [1, h, w, 3]) => (*h as usize, *w as usize),
        _ => return Err(shape_error(shape, m, "3 channels")),
    };
    let plane = w * h;
    let mut out = Vec::with_capacity(plane);
    for i in 0..plane {
        let mut px = [0.0f32; 3];
        for c in 0..3 {
            let raw = match m.layout {
                Layout::Nchw => data[c * plane + i],
                Layout::Nhwc => data[i * 3 + c],
            };
            px[if m.bgr { 2 - c } else { c }] = decode(raw, c, m);
        }
        out.push(px);
    }
    Ok((w as u32, h as u32, out))
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

fn encode(linear: f32, c: usize, m: &Manifest) -> f32 {
    let v = if m.srgb { linear_to_srgb(linear.clamp(0.0, 1.0)) } else { linear };
    match m.range {
        ValueRange::Unit => v,
        ValueRange::Signed => v * 2.0 - 1.0,
        ValueRange::MeanStd { mean, std } => (v - mean[c]) / std[c],
    }
}

fn decode(raw: f32, c: usize, m: &Manifest) -> f32 {
    let v = match m.range {
        ValueRange::Unit => raw,
        ValueRange::Signed => (raw + 1.0) / 2.0,
        ValueRange::MeanStd { mean, std } => raw * std[c] + mean[c],
    };
    if m.srgb { srgb_to_linear(v.clamp(0.0, 1.0)) } else { v }
}
