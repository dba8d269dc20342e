//! `image.adjust`: brightness, contrast, saturation and gamma, in linear light.

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::kit::{CpuNode, Footprint};

/// Linear mid-grey, the pivot for contrast.
const MID_GREY: f32 = 0.18;

pub fn node() -> CpuNode {
    let spec = NodeSpec::new(
        "image.adjust",
        "image/color",
        "Brightness, contrast, saturation and gamma (linear light, contrast pivots on 18% grey)",
    )
    .input("image", PortType::Image, super::IMAGE_IN)
    .output("image", PortType::Image, super::IMAGE_OUT)
    .param(ParamSpec::new(
        "brightness",
        ParamKind::Float { min: -1.0, max: 1.0 },
        ParamValue::Float(0.0),
        "Added to every channel",
    ))
    .param(ParamSpec::new(
        "contrast",
        ParamKind::Float { min: 0.0, max: 4.0 },
        ParamValue::Float(1.0),
        "Scales distance from mid-grey",
    ))
    .param(ParamSpec::new(
        "saturation",
        ParamKind::Float { min: 0.0, max: 4.0 },
        ParamValue::Float(1.0),
        "0 is greyscale, 1 unchanged",
    ))
    .param(ParamSpec::new(
        "gamma",
        ParamKind::Float { min: 0.1, max: 10.0 },
        ParamValue::Float(1.0),
        "Above 1 lifts shadows",
    ));
    CpuNode::new(spec, run).footprint(Footprint::Inputs)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let brightness = ctx.float("brightness")? as f32;
    let contrast = ctx.float("contrast")? as f32;
    let saturation = ctx.float("saturation")? as f32;
    let inv_gamma = 1.0 / ctx.float("gamma")? as f32;
    let mut px = img.pixels().to_vec();
    for p in px.chunks_exact_mut(4) {
        let mut c = [p[0], p[1], p[2]];
        for v in &mut c {
            *v = (*v + brightness - MID_GREY) * contrast + MID_GREY;
        }
        let luma = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        for (dst, v) in p.iter_mut().zip(c) {
            let v = luma + (v - luma) * saturation;
            *dst = if inv_gamma == 1.0 { v.max(0.0) } else { v.max(0.0).powf(inv_gamma) };
        }
    }
    ctx.check_cancelled()?;
    let out = Image::new(img.width(), img.height(), px).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}
