//! `image.compare`: two images side by side in one PNG, for review (ComfyUI's
//! `ImageCompare`, whose slider view a headless run keeps as a file).

use std::io::{BufWriter, Write};

use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PathRole, PortType,
};

use crate::kit::{CpuNode, check_size};

pub fn node() -> CpuNode {
    let spec = NodeSpec::new("image.compare", "image/io", "Write two images side by side (a left, b right) as one PNG")
        .with_side_effects()
        .input("a", PortType::Image, "The left image")
        .optional_input("b", PortType::Image, "The right image (a alone without it)")
        .param(ParamSpec::new(
            "path",
            ParamKind::Path { role: PathRole::Output },
            ParamValue::Text("compare/compare_{n}.png".into()),
            "File name inside --out",
        ));
    CpuNode::new(spec, run)
}

/// `a` and `b` side by side, top-aligned, transparent where one is shorter.
fn side_by_side(a: &Image, b: Option<&Image>) -> Result<Image, NodeError> {
    let (bw, bh) = b.map_or((0, 0), |b| (b.width(), b.height()));
    let (w, h) = (a.width() + bw, a.height().max(bh));
    check_size("the comparison", w, h)?;
    let mut px = vec![0.0f32; w as usize * h as usize * 4];
    let row = w as usize * 4;
    for (img, left) in std::iter::once((a, 0usize)).chain(b.map(|b| (b, a.width() as usize))) {
        let src = img.pixels();
        let src_row = img.width() as usize * 4;
        for y in 0..img.height() as usize {
            let at = y * row + left * 4;
            px[at..at + src_row].copy_from_slice(&src[y * src_row..(y + 1) * src_row]);
        }
    }
    Image::new(w, h, px).map_err(|e| NodeError::Internal(e.to_string()))
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let a = ctx.image("a")?;
    let b = match ctx.inputs("b").is_empty() {
        true => None,
        false => Some(ctx.image("b")?),
    };
    let both = side_by_side(a, b)?;
    let (path, file) = ctx.paths().create_output(ctx.text("path")?).map_err(|e| NodeError::Invalid(e.to_string()))?;
    let mut w = BufWriter::new(file);
    super::io_save::write_png8(&both, png::Compression::Fast, None, &mut w)
        .map_err(|e| NodeError::io(&path, format!("cannot encode: {e}")))?;
    w.flush().map_err(|e| NodeError::io(&path, e))?;
    Ok(Outputs::new().with_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: u32, h: u32, v: f32) -> Image {
        Image::new(w, h, [v, v, v, 1.0].repeat(w as usize * h as usize)).unwrap()
    }

    #[test]
    fn two_images_sit_side_by_side_and_a_shorter_one_leaves_transparency() {
        let both = side_by_side(&flat(2, 3, 0.25), Some(&flat(4, 1, 0.75))).unwrap();
        assert_eq!((both.width(), both.height()), (6, 3));
        let px = both.pixels();
        let at = |x: usize, y: usize| &px[(y * 6 + x) * 4..(y * 6 + x) * 4 + 4];
        assert_eq!(at(1, 2), [0.25, 0.25, 0.25, 1.0]);
        assert_eq!(at(5, 0), [0.75, 0.75, 0.75, 1.0]);
        assert_eq!(at(5, 2), [0.0, 0.0, 0.0, 0.0], "below the shorter image");
        let alone = side_by_side(&flat(2, 2, 0.5), None).unwrap();
        assert_eq!((alone.width(), alone.height()), (2, 2));
    }
}
