//! Conversions between the `image` crate's buffers and the engine's linear-light `Image`.

use image::{DynamicImage, ImageBuffer, Rgba, Rgba32FImage, RgbaImage};
use switchyard_engine::{Image, Mask, NodeError};

use crate::color::{DECODE_8, encode_8, linear_to_srgb, srgb_to_linear, unit_8};

/// Limits on decoding, against decompression bombs.
#[derive(Clone, Copy, Debug)]
pub struct ImageLimits {
    /// Longest side accepted.
    pub max_side: u32,
    /// Most bytes the decoder may allocate.
    pub max_alloc_bytes: u64,
    /// Largest file read.
    pub max_file_bytes: u64,
}

impl ImageLimits {
    /// The same limits for the `image` crate's decoder.
    pub fn decoder_limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_side);
        l.max_image_height = Some(self.max_side);
        l.max_alloc = Some(self.max_alloc_bytes);
        l
    }
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self { max_side: crate::kit::MAX_SIDE, max_alloc_bytes: 1 << 30, max_file_bytes: 512 << 20 }
    }
}

/// Decoded pixels to linear light. 8- and 16-bit data is taken as sRGB-encoded; float data
/// (EXR, HDR) as already linear.
pub fn from_dynamic(img: DynamicImage) -> Result<Image, NodeError> {
    let (w, h) = (img.width(), img.height());
    crate::kit::check_size("the decoded image", w, h)?;
    let fill = |out: &mut [f32]| match img {
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
            out.copy_from_slice(&img.into_rgba32f());
        }
        DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_) => {
            let f = |v: u16| f32::from(v) / 65535.0;
            for (d, px) in out.chunks_exact_mut(4).zip(img.into_rgba16().chunks_exact(4)) {
                d.copy_from_slice(&[
                    srgb_to_linear(f(px[0])),
                    srgb_to_linear(f(px[1])),
                    srgb_to_linear(f(px[2])),
                    f(px[3]),
                ]);
            }
        }
        other => {
            let lut = &*DECODE_8;
            for (d, px) in out.chunks_exact_mut(4).zip(other.into_rgba8().chunks_exact(4)) {
                d.copy_from_slice(&[
                    lut[px[0] as usize],
                    lut[px[1] as usize],
                    lut[px[2] as usize],
                    f32::from(px[3]) / 255.0,
                ]);
            }
        }
    };
    Image::build(w, h, fill).map_err(|e| NodeError::Internal(e.to_string()))
}

/// Linear light to 8-bit sRGB RGBA.
pub fn to_rgba8(img: &Image) -> RgbaImage {
    let raw = collect_rows(img, rgba8);
    RgbaImage::from_raw(img.width(), img.height(), raw).unwrap_or_default()
}

/// Row `y` as 8-bit sRGB RGBA, into `out` (cleared first); for streaming encoders.
pub fn row_rgba8(img: &Image, y: u32, out: &mut Vec<u8>, scratch: &mut Vec<f32>) {
    out.clear();
    let row = img.row(y, 0, img.width(), scratch);
    out.extend(row.chunks_exact(4).flat_map(rgba8));
}

/// One linear RGBA pixel as 8-bit sRGB RGBA.
fn rgba8(p: &[f32]) -> [u8; 4] {
    [encode_8(p[0]), encode_8(p[1]), encode_8(p[2]), unit_8(p[3])]
}

/// Linear light to 16-bit sRGB RGBA.
pub fn to_rgba16(img: &Image) -> ImageBuffer<Rgba<u16>, Vec<u16>> {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 65535.0).round() as u16;
    let raw =
        collect_rows(img, |p| [q(linear_to_srgb(p[0])), q(linear_to_srgb(p[1])), q(linear_to_srgb(p[2])), q(p[3])]);
    ImageBuffer::from_raw(img.width(), img.height(), raw).unwrap_or_default()
}

/// The linear float buffer as an `image` crate buffer (for EXR and resampling).
pub fn to_rgba32f(img: &Image) -> Rgba32FImage {
    Rgba32FImage::from_raw(img.width(), img.height(), collect_rows(img, |p| [p[0], p[1], p[2], p[3]]))
        .unwrap_or_default()
}

/// Every pixel through `f`, a row at a time, so a half-float image is never converted whole.
fn collect_rows<T>(img: &Image, f: impl Fn(&[f32]) -> [T; 4]) -> Vec<T> {
    let mut out = Vec::with_capacity(img.width() as usize * img.height() as usize * 4);
    let mut scratch = Vec::new();
    for y in 0..img.height() {
        out.extend(img.row(y, 0, img.width(), &mut scratch).chunks_exact(4).flat_map(&f));
    }
    out
}

/// A float buffer back to an engine image.
pub fn from_rgba32f(buf: Rgba32FImage) -> Result<Image, NodeError> {
    let (w, h) = buf.dimensions();
    Image::new(w, h, buf.into_raw()).map_err(|e| NodeError::Internal(e.to_string()))
}

/// Premultiplies colour by alpha, so filtering does not bleed hidden colour into edges.
pub fn premultiply(px: &mut [f32]) {
    for p in px.chunks_exact_mut(4) {
        let a = p[3];
        p[0] *= a;
        p[1] *= a;
        p[2] *= a;
    }
}

/// Undoes [`premultiply`]; fully transparent pixels become transparent black.
pub fn unpremultiply(px: &mut [f32]) {
    for p in px.chunks_exact_mut(4) {
        let a = p[3];
        let inv = if a > 1e-6 { 1.0 / a } else { 0.0 };
        p[0] *= inv;
        p[1] *= inv;
        p[2] *= inv;
    }
}

/// Resamples to an exact size, in premultiplied linear light.
pub fn resample(img: &Image, width: u32, height: u32, filter: image::imageops::FilterType) -> Result<Image, NodeError> {
    if img.width() == width && img.height() == height {
        return Ok(img.clone());
    }
    let mut buf = to_rgba32f(img);
    premultiply(&mut buf);
    let mut out = image::imageops::resize(&buf, width, height, filter);
    unpremultiply(&mut out);
    from_rgba32f(out)
}

/// Resamples a mask to an exact size (bilinear).
pub fn resample_mask(mask: &Mask, width: u32, height: u32) -> Result<Mask, NodeError> {
    if mask.width() == width && mask.height() == height {
        return Ok(mask.clone());
    }
    let buf: ImageBuffer<image::Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(mask.width(), mask.height(), mask.values().to_vec())
            .ok_or_else(|| NodeError::Internal("mask buffer size".into()))?;
    let out = image::imageops::resize(&buf, width, height, image::imageops::FilterType::Triangle);
    Mask::new(width, height, out.into_raw()).map_err(|e| NodeError::Internal(e.to_string()))
}
