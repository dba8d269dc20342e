//! Small 8-bit pictures of image outputs for the canvas, sampled row by row so a large
//! output is never converted whole.

use switchyard_engine::{Image, Mask};

/// The longest side of a preview, in pixels.
pub const PREVIEW_SIDE: u32 = 512;

/// An sRGB RGBA picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    /// Width and height in pixels.
    pub size: [usize; 2],
    /// RGBA bytes, row by row.
    pub rgba: Vec<u8>,
    /// The source image's size.
    pub source_size: [u32; 2],
}

/// Every `step`-th pixel of a `w`×`h` picture, and the preview's size: at most
/// `PREVIEW_SIDE` a side.
fn sampling(w: u32, h: u32) -> (u32, u32, u32) {
    let step = w.max(h).div_ceil(PREVIEW_SIDE).max(1);
    (step, w.div_ceil(step), h.div_ceil(step))
}

/// `img` sampled down (nearest pixel) to at most `PREVIEW_SIDE` a side.
pub fn preview(img: &Image) -> Preview {
    let (w, h) = (img.width(), img.height());
    let (step, pw, ph) = sampling(w, h);
    let mut rgba = Vec::with_capacity(pw as usize * ph as usize * 4);
    let (mut row, mut scratch) = (Vec::new(), Vec::new());
    for y in (0..h).step_by(step as usize) {
        switchyard_nodes::row_rgba8(img, y, &mut row, &mut scratch);
        for x in (0..w).step_by(step as usize) {
            let i = x as usize * 4;
            rgba.extend_from_slice(&row[i..i + 4]);
        }
    }
    Preview { size: [pw as usize, ph as usize], rgba, source_size: [w, h] }
}

/// `mask` as grey, sampled down (nearest) like an image.
pub fn mask_preview(mask: &Mask) -> Preview {
    let (w, h) = (mask.width(), mask.height());
    let (step, pw, ph) = sampling(w, h);
    let values = mask.values();
    let mut rgba = Vec::with_capacity(pw as usize * ph as usize * 4);
    for y in (0..h).step_by(step as usize) {
        for x in (0..w).step_by(step as usize) {
            let v = values.get(y as usize * w as usize + x as usize).copied().unwrap_or(0.0);
            // Coverage, not light: shown as is, so half coverage is mid grey.
            let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            rgba.extend_from_slice(&[g, g, g, 255]);
        }
    }
    Preview { size: [pw as usize, ph as usize], rgba, source_size: [w, h] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_images_shrink_to_the_preview_side_and_keep_their_pixels() {
        let img =
            Image::build(1200, 300, |px| px.chunks_exact_mut(4).for_each(|p| p.copy_from_slice(&[1.0, 0.0, 0.0, 1.0])))
                .unwrap();
        let p = preview(&img);
        assert_eq!(p.size, [400, 100]);
        assert_eq!(p.rgba.len(), 400 * 100 * 4);
        assert_eq!(&p.rgba[..4], &[255, 0, 0, 255]);
    }

    #[test]
    fn masks_preview_as_grey() {
        let p = mask_preview(&Mask::new(2, 1, vec![0.0, 1.0]).unwrap());
        assert_eq!(p.rgba, [0, 0, 0, 255, 255, 255, 255, 255]);
    }
}
