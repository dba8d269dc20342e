//! `mask.from_image`: a mask from one channel of an image.

use switchyard_engine::{
    Mask, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::kit::{CpuNode, Footprint};

const CHANNELS: &[&str] = &["luminance", "alpha", "red", "green", "blue"];

pub fn from_image_node() -> CpuNode {
    let spec =
        NodeSpec::new("mask.from_image", "mask", "A mask from an image's luminance, alpha or one colour channel")
            .input("image", PortType::Image, super::IMAGE_IN)
            .output("mask", PortType::Mask, "The mask, 0 to 1")
            .param(ParamSpec::new(
                "channel",
                ParamKind::Choice { options: CHANNELS },
                ParamValue::Text("luminance".into()),
                "Which channel becomes the mask",
            ))
            .param(ParamSpec::new("invert", ParamKind::Bool, ParamValue::Bool(false), "Swap black and white"));
    CpuNode::new(spec, run).footprint(Footprint::Inputs)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let invert = ctx.bool("invert")?;
    let pick: fn(&[f32]) -> f32 = match ctx.text("channel")? {
        "alpha" => |p| p[3],
        "red" => |p| p[0],
        "green" => |p| p[1],
        "blue" => |p| p[2],
        _ => |p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2],
    };
    let values = img
        .pixels()
        .chunks_exact(4)
        .map(|p| {
            let v = pick(p).clamp(0.0, 1.0);
            if invert { 1.0 - v } else { v }
        })
        .collect();
    let mask = Mask::new(img.width(), img.height(), values).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("mask", Value::Mask(mask)))
}
