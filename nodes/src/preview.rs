//! Small 8-bit pictures of image outputs (the editor's canvas, a server's event stream),
//! sampled row by row so a large output is never converted whole.

use std::sync::Arc;

use switchyard_engine::{Image, Mask, Picture, Previewer, Value};

/// An sRGB RGBA picture.
pub type Preview = Picture;

/// Every `step`-th pixel of a `w`×`h` picture, and the preview's size: at most `side` a side.
fn sampling(w: u32, h: u32, side: u32) -> (u32, u32, u32) {
    let step = w.max(h).div_ceil(side.max(1)).max(1);
    (step, w.div_ceil(step), h.div_ceil(step))
}

/// A picture of an image or mask value at most `side` a side; `None` for other values.
pub fn of_value(value: &Value, side: u32) -> Option<Preview> {
    match value {
        Value::Image(img) => Some(preview(img, side)),
        Value::Mask(mask) => Some(mask_preview(mask, side)),
        _ => None,
    }
}

/// A previewer for an event sink: pictures at most `side` a side.
pub fn previewer(side: u32) -> Previewer {
    Previewer(Arc::new(move |value| of_value(value, side)))
}

/// A picture as an 8-bit RGBA PNG (fast compression: previews are sent, not kept).
pub fn png(picture: &Preview) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let [w, h] = picture.size.map(|n| u32::try_from(n).ok());
    let mut encoder = png::Encoder::new(&mut out, w?, h?);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&picture.rgba).ok()?;
    writer.finish().ok()?;
    Some(out)
}

/// `img` sampled down (nearest pixel) to at most `side` a side.
pub fn preview(img: &Image, side: u32) -> Preview {
    let (w, h) = (img.width(), img.height());
    let (step, pw, ph) = sampling(w, h, side);
    let mut rgba = Vec::with_capacity(pw as usize * ph as usize * 4);
    let (mut row, mut scratch) = (Vec::new(), Vec::new());
    for y in (0..h).step_by(step as usize) {
        crate::row_rgba8(img, y, &mut row, &mut scratch);
        for x in (0..w).step_by(step as usize) {
            let i = x as usize * 4;
            rgba.extend_from_slice(&row[i..i + 4]);
        }
    }
    Preview { size: [pw as usize, ph as usize], rgba, source_size: [w, h] }
}

/// `mask` as grey, sampled down (nearest) like an image.
pub fn mask_preview(mask: &Mask, side: u32) -> Preview {
    let (w, h) = (mask.width(), mask.height());
    let (step, pw, ph) = sampling(w, h, side);
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
        let p = preview(&img, 512);
        assert_eq!(p.size, [400, 100]);
        assert_eq!(p.rgba.len(), 400 * 100 * 4);
        assert_eq!(&p.rgba[..4], &[255, 0, 0, 255]);
    }

    #[test]
    fn previews_encode_as_png_that_decodes_to_the_same_pixels() {
        let img = Image::build(3, 2, |px| px.iter_mut().for_each(|v| *v = 1.0)).unwrap();
        let bytes = png(&preview(&img, 512)).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert!(buf[..info.buffer_size()].iter().all(|b| *b == 255));
    }

    #[test]
    fn masks_preview_as_grey() {
        let p = mask_preview(&Mask::new(2, 1, vec![0.0, 1.0]).unwrap(), 512);
        assert_eq!(p.rgba, [0, 0, 0, 255, 255, 255, 255, 255]);
    }
}
