//! `image.noise`: seeded fractal value noise, for local look-dev drafts.

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::color::srgb_unit_to_linear;
use crate::kit::{CpuNode, Footprint, check_size, row_tick, u32_param};

pub fn node() -> CpuNode {
    let size = ParamKind::Int { min: 1, max: i64::from(crate::kit::MAX_SIDE) };
    let spec = NodeSpec::new(
        "image.noise",
        "image/generate",
        "Seeded fractal value noise: the same seed gives the same image on every machine",
    )
    .output("image", PortType::Image, super::IMAGE_OUT)
    .param(ParamSpec::new("width", size.clone(), ParamValue::Int(512), "Width in pixels"))
    .param(ParamSpec::new("height", size, ParamValue::Int(512), "Height in pixels"))
    .param(ParamSpec::new("seed", ParamKind::Seed, ParamValue::Int(0), "Random seed"))
    .param(ParamSpec::new(
        "scale",
        ParamKind::Float { min: 1.0, max: 4096.0 },
        ParamValue::Float(64.0),
        "Feature size in pixels",
    ))
    .param(ParamSpec::new("octaves", ParamKind::Int { min: 1, max: 8 }, ParamValue::Int(4), "Layers of finer detail"))
    .param(ParamSpec::new(
        "color",
        ParamKind::Bool,
        ParamValue::Bool(false),
        "Independent noise per channel instead of grey",
    ));
    CpuNode::new(spec, run).footprint(Footprint::SizeParams)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let (w, h) = (u32_param(ctx, "width")?, u32_param(ctx, "height")?);
    check_size("the noise image", w, h)?;
    let field = Fbm {
        seed: ctx.int("seed")? as u64,
        inv_scale: 1.0 / ctx.float("scale")?,
        octaves: u32::try_from(ctx.int("octaves")?).unwrap_or(1),
    };
    let color = ctx.bool("color")?;
    let mut px = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        row_tick(ctx, y, h, 64)?;
        for x in 0..w {
            let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let r = srgb_unit_to_linear(field.sample(fx, fy, 0));
            let (g, b) = if color {
                (srgb_unit_to_linear(field.sample(fx, fy, 1)), srgb_unit_to_linear(field.sample(fx, fy, 2)))
            } else {
                (r, r)
            };
            px.extend_from_slice(&[r, g, b, 1.0]);
        }
    }
    let img = Image::new(w, h, px).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("image", Value::Image(img)))
}

/// Fractal Brownian motion over value noise.
struct Fbm {
    seed: u64,
    inv_scale: f64,
    octaves: u32,
}

impl Fbm {
    /// A value in 0..1 at pixel (x, y) for channel `ch`.
    fn sample(&self, x: f64, y: f64, ch: u64) -> f32 {
        let (mut sum, mut norm, mut amp, mut freq) = (0.0, 0.0, 1.0, self.inv_scale);
        for octave in 0..self.octaves {
            let salt = self.seed ^ (ch << 56) ^ (u64::from(octave) << 48);
            sum += amp * value_noise(x * freq, y * freq, salt);
            norm += amp;
            amp *= 0.5;
            freq *= 2.0;
        }
        (sum / norm) as f32
    }
}

/// Smoothly interpolated lattice noise in 0..1.
fn value_noise(x: f64, y: f64, salt: u64) -> f64 {
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = (smooth(x - x0), smooth(y - y0));
    let (ix, iy) = (x0 as i64, y0 as i64);
    let v = |dx: i64, dy: i64| lattice(ix + dx, iy + dy, salt);
    let top = v(0, 0) + (v(1, 0) - v(0, 0)) * tx;
    let bottom = v(0, 1) + (v(1, 1) - v(0, 1)) * tx;
    top + (bottom - top) * ty
}

fn smooth(t: f64) -> f64 {
    t * t * (3.0 - 2.0 * t)
}

/// A hash of a lattice point to 0..1 (SplitMix64 finaliser): portable and seed-stable.
fn lattice(x: i64, y: i64, salt: u64) -> f64 {
    let mut z = salt ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_seed_stable_and_in_range() {
        let f = Fbm { seed: 7, inv_scale: 1.0 / 16.0, octaves: 4 };
        let a: Vec<f32> = (0..100).map(|i| f.sample(f64::from(i), 3.0, 0)).collect();
        let b: Vec<f32> = (0..100).map(|i| f.sample(f64::from(i), 3.0, 0)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        let other = Fbm { seed: 8, ..f };
        assert_ne!(a[5], other.sample(5.0, 3.0, 0));
    }
}
