//! `image.blur`: separable Gaussian blur in premultiplied linear light.

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::convert::{premultiply, unpremultiply};

pub fn node() -> crate::kit::CpuNode {
    let spec = NodeSpec::new("image.blur", "image/filter", "Gaussian blur")
        .input("image", PortType::Image, super::IMAGE_IN)
        .output("image", PortType::Image, super::IMAGE_OUT)
        .param(ParamSpec::new(
            "sigma",
            ParamKind::Float { min: 0.0, max: 250.0 },
            ParamValue::Float(2.0),
            "Blur radius (standard deviation) in pixels",
        ));
    crate::kit::CpuNode::new(spec, run)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let sigma = ctx.float("sigma")? as f32;
    let out = gaussian_blur(ctx, img, sigma)?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

/// Blurs with a Gaussian of `sigma` pixels, clamping at the edges.
///
/// Both passes stream along rows: the horizontal one through a padded copy of each row (no
/// bounds checks per tap), the vertical one by adding whole weighted rows, which keeps memory
/// access sequential and lets the compiler vectorise.
pub fn gaussian_blur(ctx: &NodeContext, img: &Image, sigma: f32) -> Result<Image, NodeError> {
    if sigma < 0.01 {
        return Ok(img.clone());
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let kernel = kernel(sigma);
    let mut src = img.pixels().to_vec();
    premultiply(&mut src);
    let row_len = w * 4;
    let mut tmp = vec![0.0f32; src.len()];
    let radius = kernel.len() / 2;
    let mut padded = vec![0.0f32; (w + 2 * radius) * 4];
    for y in 0..h {
        tick(ctx, y, 2 * h)?;
        pad_row(&src[y * row_len..(y + 1) * row_len], &mut padded, radius);
        horizontal(&padded, &mut tmp[y * row_len..(y + 1) * row_len], &kernel);
    }
    let last = h as isize - 1;
    for y in 0..h {
        tick(ctx, h + y, 2 * h)?;
        let out = &mut src[y * row_len..(y + 1) * row_len];
        out.fill(0.0);
        for (k, weight) in kernel.iter().enumerate() {
            let sy = (y as isize + k as isize - radius as isize).clamp(0, last) as usize;
            for (o, s) in out.iter_mut().zip(&tmp[sy * row_len..(sy + 1) * row_len]) {
                *o += s * weight;
            }
        }
    }
    unpremultiply(&mut src);
    Image::new(img.width(), img.height(), src).map_err(|e| NodeError::Internal(e.to_string()))
}

fn tick(ctx: &NodeContext, step: usize, steps: usize) -> Result<(), NodeError> {
    if step.is_multiple_of(64) {
        ctx.check_cancelled()?;
        ctx.progress(step as u64, steps as u64);
    }
    Ok(())
}

/// Copies an RGBA row into `padded`, repeating the edge pixels `radius` times on each side.
fn pad_row(row: &[f32], padded: &mut [f32], radius: usize) {
    let (first, last) = (&row[..4], &row[row.len() - 4..]);
    for i in 0..radius {
        padded[i * 4..i * 4 + 4].copy_from_slice(first);
        let j = radius + row.len() / 4 + i;
        padded[j * 4..j * 4 + 4].copy_from_slice(last);
    }
    padded[radius * 4..radius * 4 + row.len()].copy_from_slice(row);
}

fn horizontal(padded: &[f32], out: &mut [f32], kernel: &[f32]) {
    for (x, o) in out.chunks_exact_mut(4).enumerate() {
        let mut acc = [0.0f32; 4];
        for (k, weight) in kernel.iter().enumerate() {
            let p = &padded[(x + k) * 4..(x + k) * 4 + 4];
            for c in 0..4 {
                acc[c] += p[c] * weight;
            }
        }
        o.copy_from_slice(&acc);
    }
}

/// A normalised Gaussian kernel of radius ceil(3 sigma).
fn kernel(sigma: f32) -> Vec<f32> {
    let radius = (sigma * 3.0).ceil() as i32;
    let mut k: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_engine::PathRoots;

    fn ctx() -> NodeContext {
        NodeContext::standalone("t", vec![], vec![], PathRoots::new(".", "."))
    }

    #[test]
    fn blur_keeps_flat_images_flat_and_spreads_a_dot() {
        let flat = Image::new(8, 8, [0.25, 0.5, 0.75, 1.0].repeat(64)).unwrap();
        let out = gaussian_blur(&ctx(), &flat, 2.0).unwrap();
        assert!(out.pixels().iter().zip(flat.pixels().iter()).all(|(a, b)| (a - b).abs() < 1e-5));
        let mut dot = vec![0.0; 9 * 9 * 4];
        for p in dot.chunks_exact_mut(4) {
            p[3] = 1.0;
        }
        dot[(4 * 9 + 4) * 4] = 1.0;
        let out = gaussian_blur(&ctx(), &Image::new(9, 9, dot).unwrap(), 1.0).unwrap();
        let total: f32 = out.pixels().chunks_exact(4).map(|p| p[0]).sum();
        assert!((total - 1.0).abs() < 1e-4, "energy is kept: {total}");
        assert!(out.pixels()[(4 * 9 + 5) * 4] > 0.05);
    }
}
