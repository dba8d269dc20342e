//! `image.blend` and `image.composite`: W3C compositing with blend modes, in linear light
//! (as a compositor such as Nuke does). A `top` or `mask` of another size is resampled to `base`.

use image::imageops::FilterType;
use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::convert::{resample, resample_mask};
use crate::kit::{CpuNode, Footprint};

const MODES: &[&str] = &["normal", "multiply", "screen", "overlay", "add"];

pub fn blend_node() -> CpuNode {
    let spec = NodeSpec::new("image.blend", "image/composite", "Lay top over base with a blend mode and opacity")
        .input("base", PortType::Image, "The lower layer; the result takes its size")
        .input("top", PortType::Image, "The upper layer")
        .output("image", PortType::Image, super::IMAGE_OUT)
        .param(ParamSpec::new(
            "mode",
            ParamKind::Choice { options: MODES },
            ParamValue::Text("normal".into()),
            "Blend mode",
        ))
        .param(ParamSpec::new(
            "opacity",
            ParamKind::Float { min: 0.0, max: 1.0 },
            ParamValue::Float(1.0),
            "Opacity of the top layer",
        ));
    CpuNode::new(spec, run_blend).footprint(Footprint::Inputs)
}

pub fn composite_node() -> CpuNode {
    let spec = NodeSpec::new("image.composite", "image/composite", "Lay top over base where the mask is white")
        .input("base", PortType::Image, "The lower layer; the result takes its size")
        .input("top", PortType::Image, "The upper layer")
        .input("mask", PortType::Mask, "Where top shows: 1 fully, 0 not at all")
        .output("image", PortType::Image, super::IMAGE_OUT);
    CpuNode::new(spec, run_composite).footprint(Footprint::Inputs)
}

fn run_blend(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let (base, top) = (ctx.image("base")?, ctx.image("top")?);
    let top = resample(top, base.width(), base.height(), FilterType::Triangle)?;
    let mode = Mode::from_name(ctx.text("mode")?);
    let opacity = ctx.float("opacity")? as f32;
    let out = compose(base, &top, mode, |_| opacity)?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

fn run_composite(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let (base, top) = (ctx.image("base")?, ctx.image("top")?);
    let top = resample(top, base.width(), base.height(), FilterType::Triangle)?;
    let mask = resample_mask(ctx.mask("mask")?, base.width(), base.height())?;
    let out = compose(base, &top, Mode::Normal, |i| mask.values()[i].clamp(0.0, 1.0))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

#[derive(Clone, Copy)]
enum Mode {
    Normal,
    Multiply,
    Screen,
    Overlay,
    Add,
}

impl Mode {
    fn from_name(name: &str) -> Self {
        match name {
            "multiply" => Mode::Multiply,
            "screen" => Mode::Screen,
            "overlay" => Mode::Overlay,
            "add" => Mode::Add,
            _ => Mode::Normal,
        }
    }

    /// The blend function B(backdrop, source).
    fn apply(self, b: f32, s: f32) -> f32 {
        let screen = |b: f32, s: f32| b + s - b * s;
        match self {
            Mode::Normal => s,
            Mode::Multiply => b * s,
            Mode::Screen => screen(b, s),
            Mode::Overlay if b <= 0.5 => 2.0 * b * s,
            Mode::Overlay => screen(2.0 * b - 1.0, s),
            Mode::Add => b + s,
        }
    }
}

/// Source-over with a blend mode, per W3C Compositing Level 1, on straight alpha.
fn compose(base: &Image, top: &Image, mode: Mode, opacity_at: impl Fn(usize) -> f32) -> Result<Image, NodeError> {
    let mut out = Vec::with_capacity(base.pixels().len());
    for (i, (b, s)) in base.pixels().chunks_exact(4).zip(top.pixels().chunks_exact(4)).enumerate() {
        let ab = b[3];
        let as_ = s[3] * opacity_at(i);
        let ao = as_ + ab * (1.0 - as_);
        let mut px = [0.0f32; 4];
        for c in 0..3 {
            let mixed = (1.0 - ab) * s[c] + ab * mode.apply(b[c], s[c]);
            let premult = as_ * mixed + ab * b[c] * (1.0 - as_);
            px[c] = if ao > 1e-6 { premult / ao } else { 0.0 };
        }
        px[3] = ao;
        out.extend_from_slice(&px);
    }
    Image::new(base.width(), base.height(), out).map_err(|e| NodeError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(rgba: [f32; 4]) -> Image {
        Image::new(1, 1, rgba.to_vec()).unwrap()
    }

    #[test]
    fn modes_match_their_formulas_on_opaque_layers() {
        let (b, s) = (px([0.2, 0.6, 1.0, 1.0]), px([0.5, 0.5, 0.5, 1.0]));
        let check = |m, want: [f32; 4]| {
            let got = compose(&b, &s, m, |_| 1.0).unwrap().pixels().to_vec();
            assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6), "{got:?} != {want:?}");
        };
        check(Mode::Normal, [0.5, 0.5, 0.5, 1.0]);
        check(Mode::Multiply, [0.1, 0.3, 0.5, 1.0]);
        check(Mode::Screen, [0.6, 0.8, 1.0, 1.0]);
        // Overlay: 2bs where the base is dark, screen(2b - 1, s) where it is light.
        check(Mode::Overlay, [0.2, 0.6, 1.0, 1.0]);
    }

    #[test]
    fn opacity_mixes_and_transparent_top_leaves_base() {
        let (b, s) = (px([0.0, 0.0, 0.0, 1.0]), px([1.0, 1.0, 1.0, 1.0]));
        assert_eq!(compose(&b, &s, Mode::Normal, |_| 0.25).unwrap().pixels()[..], [0.25, 0.25, 0.25, 1.0]);
        let clear = px([1.0, 0.0, 0.0, 0.0]);
        assert_eq!(compose(&b, &clear, Mode::Multiply, |_| 1.0).unwrap().pixels(), b.pixels());
    }
}
