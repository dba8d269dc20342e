//! `image.grid`: a contact sheet; each image is fitted into its cell, keeping its aspect ratio.

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Value,
};

use crate::kit::{CpuNode, check_size, u32_param};

/// The most images one sheet takes.
const MAX_IMAGES: usize = 256;

pub fn node() -> CpuNode {
    let cell = ParamKind::Int { min: 0, max: 4096 };
    let spec = NodeSpec::new("image.grid", "image/composite", "A contact sheet of several images in rows and columns")
        .list_input("images", PortType::Image, MAX_IMAGES, "The images, in reading order")
        .output("image", PortType::Image, "The sheet")
        .param(ParamSpec::new(
            "columns",
            ParamKind::Int { min: 0, max: 64 },
            ParamValue::Int(0),
            "Columns, or 0 for a near-square grid",
        ))
        .param(ParamSpec::new(
            "cell_width",
            cell.clone(),
            ParamValue::Int(0),
            "Cell width in pixels, or 0 for the first image's width",
        ))
        .param(ParamSpec::new(
            "cell_height",
            cell,
            ParamValue::Int(0),
            "Cell height in pixels, or 0 for the first image's height",
        ))
        .param(ParamSpec::new(
            "gap",
            ParamKind::Int { min: 0, max: 512 },
            ParamValue::Int(8),
            "Space between and around cells, in pixels",
        ))
        .param(ParamSpec::new(
            "background",
            ParamKind::Float { min: 0.0, max: 1.0 },
            ParamValue::Float(0.02),
            "Background grey, linear",
        ));
    CpuNode::new(spec, run)
}

struct Layout {
    columns: u32,
    cell_w: u32,
    cell_h: u32,
    gap: u32,
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let images = ctx.images("images")?;
    let first = images.first().ok_or_else(|| NodeError::Invalid("the grid has no images".into()))?;
    let n = images.len() as u32;
    let columns = match u32_param(ctx, "columns")? {
        0 => (f64::from(n).sqrt().ceil() as u32).max(1),
        c => c.min(n),
    };
    let or = |v: u32, d: u32| if v == 0 { d } else { v };
    let layout = Layout {
        columns,
        cell_w: or(u32_param(ctx, "cell_width")?, first.width()),
        cell_h: or(u32_param(ctx, "cell_height")?, first.height()),
        gap: u32_param(ctx, "gap")?,
    };
    let rows = n.div_ceil(columns);
    let sheet_w = columns * layout.cell_w + (columns + 1) * layout.gap;
    let sheet_h = rows * layout.cell_h + (rows + 1) * layout.gap;
    check_size("the contact sheet", sheet_w, sheet_h)?;
    let bg = ctx.float("background")? as f32;
    let mut px = [bg, bg, bg, 1.0].repeat(sheet_w as usize * sheet_h as usize);
    for (i, img) in images.iter().enumerate() {
        ctx.check_cancelled()?;
        ctx.progress(i as u64, u64::from(n));
        place(&mut px, sheet_w, &layout, i as u32, img)?;
    }
    let sheet = Image::new(sheet_w, sheet_h, px).map_err(|e| NodeError::Internal(e.to_string()))?;
    Ok(Outputs::new().with("image", Value::Image(sheet)))
}

/// Fits image `i` into its cell, centred, and draws it over the background.
fn place(sheet: &mut [f32], sheet_w: u32, l: &Layout, i: u32, img: &Image) -> Result<(), NodeError> {
    let scale = f64::min(f64::from(l.cell_w) / f64::from(img.width()), f64::from(l.cell_h) / f64::from(img.height()));
    let w = ((f64::from(img.width()) * scale).round() as u32).clamp(1, l.cell_w);
    let h = ((f64::from(img.height()) * scale).round() as u32).clamp(1, l.cell_h);
    let fitted = crate::convert::resample(img, w, h, image::imageops::FilterType::Triangle)?;
    let (col, row) = (i % l.columns, i / l.columns);
    let x0 = l.gap + col * (l.cell_w + l.gap) + (l.cell_w - w) / 2;
    let y0 = l.gap + row * (l.cell_h + l.gap) + (l.cell_h - h) / 2;
    let src = fitted.pixels();
    for y in 0..h {
        for x in 0..w {
            let s = &src[((y * w + x) * 4) as usize..][..4];
            let d = &mut sheet[(((y0 + y) * sheet_w + x0 + x) * 4) as usize..][..4];
            let a = s[3];
            for c in 0..3 {
                d[c] = s[c] * a + d[c] * (1.0 - a);
            }
        }
    }
    Ok(())
}
