//! Small image nodes that ComfyUI workflows lean on: `image.invert`, `image.fill` (a flat
//! colour, ComfyUI's `EmptyImage`) and `image.scale` (by a factor or to a pixel count,
//! `ImageScaleBy` and `ImageScaleToTotalPixels`).

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::kit::{CpuNode, Footprint, check_size, u32_param};

pub fn invert_node() -> CpuNode {
    let spec = NodeSpec::new("image.invert", "image/color", "Invert the colours (in sRGB, as image editors do)")
        .input("image", PortType::Image, super::IMAGE_IN)
        .output("image", PortType::Image, super::IMAGE_OUT);
    CpuNode::new(spec, invert).footprint(Footprint::Inputs)
}

fn invert(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    use crate::color::{linear_to_srgb, srgb_to_linear};
    let img = ctx.image("image")?;
    let mut px = img.pixels().into_owned();
    for p in px.chunks_exact_mut(4) {
        for c in &mut p[..3] {
            *c = srgb_to_linear(1.0 - linear_to_srgb(c.clamp(0.0, 1.0)));
        }
    }
    let out = Image::new(img.width(), img.height(), px).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

pub fn fill_node() -> CpuNode {
    let side = ParamKind::Int { min: 1, max: i64::from(crate::kit::MAX_SIDE) };
    let spec = NodeSpec::new("image.fill", "image/generate", "An image of one flat colour")
        .output("image", PortType::Image, super::IMAGE_OUT)
        .param(ParamSpec::new("width", side.clone(), ParamValue::Int(512), "Width in pixels"))
        .param(ParamSpec::new("height", side, ParamValue::Int(512), "Height in pixels"))
        .param(ParamSpec::new(
            "color",
            ParamKind::Int { min: 0, max: 0xFF_FFFF },
            ParamValue::Int(0),
            "The colour as 0xRRGGBB in sRGB (16777215 is white)",
        ));
    CpuNode::new(spec, fill).footprint(Footprint::SizeParams)
}

fn fill(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let (w, h) = (u32_param(ctx, "width")?, u32_param(ctx, "height")?);
    check_size("the filled image", w, h)?;
    let rgb = ctx.int("color")?;
    let channel = |shift: i64| crate::color::srgb_to_linear(((rgb >> shift) & 0xFF) as f32 / 255.0);
    let pixel = [channel(16), channel(8), channel(0), 1.0];
    let px: Vec<f32> = pixel.iter().copied().cycle().take(w as usize * h as usize * 4).collect();
    let out = Image::new(w, h, px).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

pub fn scale_node() -> CpuNode {
    let spec = NodeSpec::new("image.scale", "image/transform", "Scale by a factor, or to a number of megapixels")
        .input("image", PortType::Image, super::IMAGE_IN)
        .output("image", PortType::Image, super::IMAGE_OUT)
        .param(ParamSpec::new(
            "factor",
            ParamKind::Float { min: 0.01, max: 16.0 },
            ParamValue::Float(1.0),
            "Both sides times this",
        ))
        .param(ParamSpec::new(
            "megapixels",
            ParamKind::Float { min: 0.0, max: 256.0 },
            ParamValue::Float(0.0),
            "When above 0: scale to this many megapixels (2^20 pixels each), keeping the aspect ratio; the factor is then unused",
        ))
        .param(ParamSpec::new(
            "filter",
            ParamKind::Choice { options: super::resize::FILTERS },
            ParamValue::Text("lanczos3".into()),
            "Resampling filter",
        ));
    CpuNode::new(spec, scale)
}

fn scale(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let megapixels = ctx.float("megapixels")?;
    let factor = if megapixels > 0.0 { (megapixels * 1_048_576.0 / (w * h)).sqrt() } else { ctx.float("factor")? };
    let side = |n: f64| (n * factor).round().max(1.0).min(f64::from(u32::MAX)) as u32;
    let (nw, nh) = (side(w), side(h));
    check_size("the scaled image", nw, nh)?;
    ctx.check_cancelled()?;
    let out = crate::convert::resample(img, nw, nh, super::resize::filter(ctx.text("filter")?))?;
    Ok(Outputs::new().with("image", Value::Image(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_engine::PathRoots;

    fn ctx(image: Option<Image>, params: Vec<(&'static str, ParamValue)>) -> NodeContext {
        let inputs = image.map(|i| vec![("image", vec![Value::Image(i)])]).unwrap_or_default();
        NodeContext::standalone("t", inputs, params, PathRoots::new(".", "."))
    }

    fn image_of(out: &Outputs) -> Image {
        match out.values().find_map(|(_, v)| match v {
            Value::Image(i) => Some(i.clone()),
            _ => None,
        }) {
            Some(i) => i,
            None => panic!("an image"),
        }
    }

    #[test]
    fn fill_makes_the_srgb_colour_and_invert_turns_it_into_its_complement() {
        let params =
            vec![("width", ParamValue::Int(3)), ("height", ParamValue::Int(2)), ("color", ParamValue::Int(0xFF_0000))];
        let red = image_of(&fill(&ctx(None, params)).unwrap());
        assert_eq!((red.width(), red.height()), (3, 2));
        assert!(red.pixels().chunks_exact(4).all(|p| p == [1.0, 0.0, 0.0, 1.0]), "{:?}", red.pixels());
        let cyan = image_of(&invert(&ctx(Some(red), vec![])).unwrap());
        let p = &cyan.pixels()[..4];
        assert!(p[0].abs() < 1e-6 && (p[1] - 1.0).abs() < 1e-5 && (p[2] - 1.0).abs() < 1e-5 && p[3] == 1.0, "{p:?}");
    }

    #[test]
    fn scale_goes_by_a_factor_or_to_a_pixel_count() {
        let img = Image::new(40, 20, vec![0.5; 40 * 20 * 4]).unwrap();
        let filter = ("filter", ParamValue::Text("bilinear".into()));
        let cases = [(0.5, 0.0, (20, 10)), (2.0, 0.0, (80, 40)), (1.0, 0.0078125, (128, 64))];
        for (factor, megapixels, want) in cases {
            let params = vec![
                ("factor", ParamValue::Float(factor)),
                ("megapixels", ParamValue::Float(megapixels)),
                filter.clone(),
            ];
            let out = image_of(&scale(&ctx(Some(img.clone()), params)).unwrap());
            assert_eq!((out.width(), out.height()), want, "factor {factor}, megapixels {megapixels}");
        }
    }
}
