//! `image.crop`: a rectangle out of an image.

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::kit::{CpuNode, Footprint, u32_param};

pub fn node() -> CpuNode {
    let pos = ParamKind::Int { min: 0, max: i64::from(crate::kit::MAX_SIDE) };
    let side = ParamKind::Int { min: 1, max: i64::from(crate::kit::MAX_SIDE) };
    let spec = NodeSpec::new("image.crop", "image/transform", "Cut out a rectangle")
        .input("image", PortType::Image, super::IMAGE_IN)
        .output("image", PortType::Image, super::IMAGE_OUT)
        .param(ParamSpec::new("x", pos.clone(), ParamValue::Int(0), "Left edge in pixels"))
        .param(ParamSpec::new("y", pos, ParamValue::Int(0), "Top edge in pixels"))
        .param(ParamSpec::required("width", side.clone(), "Width in pixels"))
        .param(ParamSpec::required("height", side, "Height in pixels"));
    CpuNode::new(spec, run).footprint(Footprint::Inputs)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let (x, y) = (u32_param(ctx, "x")?, u32_param(ctx, "y")?);
    let (w, h) = (u32_param(ctx, "width")?, u32_param(ctx, "height")?);
    let fits = |start: u32, len: u32, max: u32| u64::from(start) + u64::from(len) <= u64::from(max);
    if !fits(x, w, img.width()) || !fits(y, h, img.height()) {
        return Err(NodeError::Invalid(format!(
            "the crop {w}x{h} at ({x}, {y}) does not fit the {}x{} image; shrink it or move it inside",
            img.width(),
            img.height()
        )));
    }
    let stride = img.width() as usize * 4;
    let mut px = Vec::with_capacity(w as usize * h as usize * 4);
    for row in y..y + h {
        let start = row as usize * stride + x as usize * 4;
        px.extend_from_slice(&img.pixels()[start..start + w as usize * 4]);
    }
    let out = Image::new(w, h, px).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}
