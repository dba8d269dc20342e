//! `image.resize`: resampling with a choice of filter; a zero side keeps the aspect ratio.

use image::imageops::FilterType;
use switchyard_engine::{NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value};

use crate::kit::{CpuNode, check_size, u32_param};

pub const FILTERS: &[&str] = &["nearest", "bilinear", "bicubic", "gaussian", "lanczos3"];

pub fn node() -> CpuNode {
    let side = ParamKind::Int { min: 0, max: i64::from(crate::kit::MAX_SIDE) };
    let spec = NodeSpec::new("image.resize", "image/transform", "Resize; set one side to 0 to keep the aspect ratio")
        .input("image", PortType::Image, super::IMAGE_IN)
        .output("image", PortType::Image, super::IMAGE_OUT)
        .param(ParamSpec::new(
            "width",
            side.clone(),
            ParamValue::Int(512),
            "New width in pixels, or 0 to follow the height",
        ))
        .param(ParamSpec::new("height", side, ParamValue::Int(0), "New height in pixels, or 0 to follow the width"))
        .param(ParamSpec::new(
            "filter",
            ParamKind::Choice { options: FILTERS },
            ParamValue::Text("lanczos3".into()),
            "Resampling filter",
        ));
    CpuNode::new(spec, run)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let (w, h) = target_size(img.width(), img.height(), u32_param(ctx, "width")?, u32_param(ctx, "height")?)?;
    check_size("the resized image", w, h)?;
    ctx.check_cancelled()?;
    let out = crate::convert::resample(img, w, h, filter(ctx.text("filter")?))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

/// The filter named by a choice; validation already restricted it to `FILTERS`.
pub fn filter(name: &str) -> FilterType {
    match name {
        "nearest" => FilterType::Nearest,
        "bilinear" => FilterType::Triangle,
        "bicubic" => FilterType::CatmullRom,
        "gaussian" => FilterType::Gaussian,
        _ => FilterType::Lanczos3,
    }
}

/// Fills in a zero side from the aspect ratio.
fn target_size(src_w: u32, src_h: u32, w: u32, h: u32) -> Result<(u32, u32), NodeError> {
    let scaled = |num: u32, a: u32, b: u32| ((f64::from(num) * f64::from(a) / f64::from(b)).round() as u32).max(1);
    match (w, h) {
        (0, 0) => Err(NodeError::Invalid("width and height are both 0; set at least one".into())),
        (0, h) => Ok((scaled(h, src_w, src_h), h)),
        (w, 0) => Ok((w, scaled(w, src_h, src_w))),
        (w, h) => Ok((w, h)),
    }
}

#[cfg(test)]
mod tests {
    use super::target_size;

    #[test]
    fn zero_side_keeps_aspect() {
        assert_eq!(target_size(1920, 1080, 256, 0).unwrap(), (256, 144));
        assert_eq!(target_size(1920, 1080, 0, 540).unwrap(), (960, 540));
        assert!(target_size(10, 10, 0, 0).is_err());
    }
}
