//! Runtime values: what nodes produce and consume. Separate from the file format.

use std::borrow::Cow;
use std::sync::Arc;

use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::types::PortType;

/// An RGBA image in linear light, straight (not premultiplied) alpha.
///
/// Pixels are row-major, four channels each. Most images hold `f32`; very large ones (an 8K
/// upscale) may hold half floats to halve their memory, and convert on read. Clones share
/// the pixel buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    width: u32,
    height: u32,
    pixels: PixelStore,
}

/// How an image's channel values are stored.
#[derive(Clone, Debug, PartialEq)]
pub enum PixelStore {
    /// 32-bit floats: the working format of every image op.
    F32(Arc<[f32]>),
    /// 16-bit floats, as in half-float EXR: for outputs too large to keep in `f32`.
    F16(Arc<[f16]>),
}

impl PixelStore {
    fn len(&self) -> usize {
        match self {
            PixelStore::F32(p) => p.len(),
            PixelStore::F16(p) => p.len(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            PixelStore::F32(p) => p.len() * 4,
            PixelStore::F16(p) => p.len() * 2,
        }
    }
}

impl Image {
    /// Channels per pixel.
    pub const CHANNELS: usize = 4;

    /// Builds an image, checking that the buffer holds `width * height * 4` floats.
    pub fn new(width: u32, height: u32, pixels: Vec<f32>) -> Result<Self, ValueError> {
        Self::from_shared(width, height, pixels.into())
    }

    /// Builds an image around a shared buffer without copying it (`collect` an exact-size
    /// iterator into an `Arc<[f32]>` to build one in a single allocation).
    pub fn from_shared(width: u32, height: u32, pixels: Arc<[f32]>) -> Result<Self, ValueError> {
        Self::from_store(width, height, PixelStore::F32(pixels))
    }

    /// Builds an `f32` image in one allocation, with `fill` writing the (zeroed) RGBA floats;
    /// unlike [`Image::new`], no second copy of a large buffer is ever made.
    pub fn build(width: u32, height: u32, fill: impl FnOnce(&mut [f32])) -> Result<Self, ValueError> {
        let mut pixels: Arc<[f32]> = std::iter::repeat_n(0.0, pixel_count(width, height) * Self::CHANNELS).collect();
        if let Some(px) = Arc::get_mut(&mut pixels) {
            fill(px);
        }
        Self::from_shared(width, height, pixels)
    }

    /// Builds a half-float image around a shared buffer.
    pub fn from_half(width: u32, height: u32, pixels: Arc<[f16]>) -> Result<Self, ValueError> {
        Self::from_store(width, height, PixelStore::F16(pixels))
    }

    fn from_store(width: u32, height: u32, pixels: PixelStore) -> Result<Self, ValueError> {
        let expected = pixel_count(width, height) * Self::CHANNELS;
        if pixels.len() != expected || width == 0 || height == 0 {
            return Err(ValueError::BadBuffer { width, height, expected, actual: pixels.len() });
        }
        Ok(Self { width, height, pixels })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGBA floats, row-major: borrowed, or converted whole from a half-float image
    /// (prefer [`Image::row`] there, which converts one row at a time).
    pub fn pixels(&self) -> Cow<'_, [f32]> {
        match &self.pixels {
            PixelStore::F32(p) => Cow::Borrowed(p),
            PixelStore::F16(p) => {
                let mut out = vec![0.0; p.len()];
                p.convert_to_f32_slice(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// `n` pixels of row `y` from column `x`, as RGBA floats: borrowed from an `f32` image, or
    /// converted into `scratch` from a half-float one. Panics if the span is outside the image.
    pub fn row<'a>(&'a self, y: u32, x: u32, n: u32, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        let start = (y as usize * self.width as usize + x as usize) * Self::CHANNELS;
        let len = n as usize * Self::CHANNELS;
        match &self.pixels {
            PixelStore::F32(p) => &p[start..start + len],
            PixelStore::F16(p) => {
                scratch.resize(len, 0.0);
                p[start..start + len].convert_to_f32_slice(scratch);
                scratch
            }
        }
    }

    /// How the pixels are stored.
    pub fn store(&self) -> &PixelStore {
        &self.pixels
    }

    /// Whether every pixel is fully opaque.
    pub fn is_opaque(&self) -> bool {
        match &self.pixels {
            PixelStore::F32(p) => p.chunks_exact(4).all(|px| px[3] >= 1.0),
            PixelStore::F16(p) => p.chunks_exact(4).all(|px| px[3] >= f16::ONE),
        }
    }
}

/// A single-channel mask, `f32` per pixel, 0 transparent to 1 opaque.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    width: u32,
    height: u32,
    values: Arc<[f32]>,
}

impl Mask {
    /// Builds a mask, checking that the buffer holds `width * height` floats.
    pub fn new(width: u32, height: u32, values: Vec<f32>) -> Result<Self, ValueError> {
        let expected = pixel_count(width, height);
        if values.len() != expected || width == 0 || height == 0 {
            return Err(ValueError::BadBuffer { width, height, expected, actual: values.len() });
        }
        Ok(Self { width, height, values: values.into() })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The mask values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// Image frames with a frame rate.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoFrames {
    /// The frames, all the same size.
    pub frames: Arc<[Image]>,
    /// Frames per second.
    pub fps: f64,
}

/// Interleaved `f32` audio samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    /// Samples, interleaved by channel.
    pub samples: Arc<[f32]>,
    /// Samples per second per channel.
    pub sample_rate_hz: u32,
    /// Number of channels.
    pub channels: u16,
}

/// A value on a wire.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// An image.
    Image(Image),
    /// A mask.
    Mask(Mask),
    /// Text.
    Text(Arc<str>),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Video frames.
    VideoFrames(VideoFrames),
    /// Audio.
    Audio(Audio),
}

impl Value {
    /// The port type this value travels as.
    pub fn port_type(&self) -> PortType {
        match self {
            Value::Image(_) => PortType::Image,
            Value::Mask(_) => PortType::Mask,
            Value::Text(_) => PortType::Text,
            Value::Int(_) => PortType::Int,
            Value::Float(_) => PortType::Float,
            Value::Bool(_) => PortType::Bool,
            Value::VideoFrames(_) => PortType::VideoFrames,
            Value::Audio(_) => PortType::Audio,
        }
    }

    /// Approximate heap bytes held, for the cache's byte budget.
    pub fn byte_size(&self) -> usize {
        const F32: usize = std::mem::size_of::<f32>();
        let heap = match self {
            Value::Image(i) => i.pixels.bytes(),
            Value::Mask(m) => m.values.len() * F32,
            Value::Text(t) => t.len(),
            Value::VideoFrames(v) => v.frames.iter().map(|f| f.pixels.bytes()).sum(),
            Value::Audio(a) => a.samples.len() * F32,
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => 0,
        };
        heap + std::mem::size_of::<Value>()
    }

    /// A hash of the value's content, used where a value's origin cannot stand in for it.
    pub fn content_hash(&self) -> blake3::Hash {
        let mut h = blake3::Hasher::new();
        h.update(self.port_type().name().as_bytes());
        match self {
            Value::Image(i) => hash_image(&mut h, i),
            Value::Mask(m) => hash_pixels(&mut h, m.width, m.height, &m.values),
            Value::Text(t) => {
                h.update(t.as_bytes());
            }
            Value::Int(v) => {
                h.update(&v.to_le_bytes());
            }
            Value::Float(v) => {
                h.update(&v.to_le_bytes());
            }
            Value::Bool(v) => {
                h.update(&[u8::from(*v)]);
            }
            Value::VideoFrames(v) => {
                h.update(&v.fps.to_le_bytes());
                for f in v.frames.iter() {
                    hash_image(&mut h, f);
                }
            }
            Value::Audio(a) => {
                h.update(&a.sample_rate_hz.to_le_bytes());
                h.update(&a.channels.to_le_bytes());
                hash_floats(&mut h, &a.samples);
            }
        }
        h.finalize()
    }
}

fn hash_image(h: &mut blake3::Hasher, img: &Image) {
    match &img.pixels {
        PixelStore::F32(p) => hash_pixels(h, img.width, img.height, p),
        PixelStore::F16(p) => {
            // Tagged, so a half image never hashes like an f32 one.
            h.update(b"f16");
            h.update(&img.width.to_le_bytes());
            h.update(&img.height.to_le_bytes());
            hash_le(h, p, f16::to_le_bytes);
        }
    }
}

fn hash_pixels(h: &mut blake3::Hasher, width: u32, height: u32, data: &[f32]) {
    h.update(&width.to_le_bytes());
    h.update(&height.to_le_bytes());
    hash_floats(h, data);
}

fn hash_floats(h: &mut blake3::Hasher, data: &[f32]) {
    hash_le(h, data, f32::to_le_bytes);
}

fn hash_le<T: Copy, const N: usize>(h: &mut blake3::Hasher, data: &[T], bytes: impl Fn(T) -> [u8; N]) {
    let Ok(()) = le_chunks(data, bytes, |b| {
        h.update(b);
        Ok::<(), std::convert::Infallible>(())
    });
}

/// Hands `data` to `sink` as little-endian bytes through a small fixed buffer, so hashing or
/// writing a large buffer never needs a byte copy of it.
pub(crate) fn le_chunks<T: Copy, const N: usize, E>(
    data: &[T],
    bytes: impl Fn(T) -> [u8; N],
    mut sink: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = [0u8; 16384];
    for chunk in data.chunks(buf.len() / N) {
        for (dst, v) in buf.chunks_exact_mut(N).zip(chunk) {
            dst.copy_from_slice(&bytes(*v));
        }
        sink(&buf[..chunk.len() * N])?;
    }
    Ok(())
}

fn pixel_count(width: u32, height: u32) -> usize {
    width as usize * height as usize
}

/// A value could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The pixel buffer does not match the stated size.
    #[error("a {width}x{height} buffer needs {expected} floats, got {actual}")]
    BadBuffer {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Floats needed.
        expected: usize,
        /// Floats given.
        actual: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_images_read_back_by_row_and_whole_and_hash_apart_from_f32() {
        let values = [0.0, 0.25, 0.5, 1.0, 2.0, 0.125, 0.75, 0.5];
        let full = Image::new(2, 1, values.to_vec()).unwrap();
        let half = Image::from_half(2, 1, values.iter().map(|v| f16::from_f32(*v)).collect()).unwrap();
        assert_eq!(half.pixels().as_ref(), &values);
        let mut scratch = Vec::new();
        assert_eq!(half.row(0, 1, 1, &mut scratch), &values[4..]);
        assert_eq!(full.row(0, 1, 1, &mut scratch), &values[4..]);
        assert_ne!(Value::Image(full.clone()).content_hash(), Value::Image(half.clone()).content_hash());
        assert_eq!(Value::Image(half).byte_size() * 2 - std::mem::size_of::<Value>(), Value::Image(full).byte_size());
        assert!(Image::from_half(2, 2, vec![f16::ZERO; 4].into()).is_err());
    }

    #[test]
    fn build_fills_one_buffer() {
        let img = Image::build(2, 1, |px| px.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32)).unwrap();
        assert_eq!(img.pixels()[7], 7.0);
    }
}
