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
pub fn gaussian_blur(ctx: &NodeContext, img: &Image, sigma: f32) -> Result<Image, NodeError> {
    if sigma < 0.01 {
        return Ok(img.clone());
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let kernel = kernel(sigma);
    let mut src = img.pixels().to_vec();
    premultiply(&mut src);
    let mut tmp = vec![0.0f32; src.len()];
    // Horizontal pass.
    for y in 0..h {
        if y.is_multiple_of(64) {
            ctx.check_cancelled()?;
            ctx.progress(y as u64, (2 * h) as u64);
        }
        let row = &src[y * w * 4..(y + 1) * w * 4];
        let out = &mut tmp[y * w * 4..(y + 1) * w * 4];
        convolve_line(row, out, w, &kernel);
    }
    // Vertical pass, a column at a time through a scratch line.
    let mut column = vec![0.0f32; h * 4];
    let mut blurred = vec![0.0f32; h * 4];
    for x in 0..w {
        if x.is_multiple_of(64) {
            ctx.check_cancelled()?;
            ctx.progress((h + x * h / w) as u64, (2 * h) as u64);
        }
        for y in 0..h {
            column[y * 4..y * 4 + 4].copy_from_slice(&tmp[(y * w + x) * 4..(y * w + x) * 4 + 4]);
        }
        convolve_line(&column, &mut blurred, h, &kernel);
        for y in 0..h {
            src[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&blurred[y * 4..y * 4 + 4]);
        }
    }
    unpremultiply(&mut src);
    Image::new(img.width(), img.height(), src).map_err(|e| NodeError::Internal(e.to_string()))
}

/// A normalised Gaussian kernel of radius ceil(3 sigma).
fn kernel(sigma: f32) -> Vec<f32> {
    let radius = (sigma * 3.0).ceil() as i32;
    let mut k: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Convolves a line of `n` RGBA pixels, clamping at the ends.
fn convolve_line(src: &[f32], out: &mut [f32], n: usize, kernel: &[f32]) {
    let radius = (kernel.len() / 2) as isize;
    let last = n as isize - 1;
    for i in 0..n as isize {
        let mut acc = [0.0f32; 4];
        for (k, weight) in kernel.iter().enumerate() {
            let j = (i + k as isize - radius).clamp(0, last) as usize * 4;
            for c in 0..4 {
                acc[c] += src[j + c] * weight;
            }
        }
        let o = i as usize * 4;
        out[o..o + 4].copy_from_slice(&acc);
    }
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
        assert!(out.pixels().iter().zip(flat.pixels()).all(|(a, b)| (a - b).abs() < 1e-5));
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
