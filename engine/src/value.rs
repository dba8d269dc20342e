//! Runtime values: what nodes produce and consume. Separate from the file format.

use std::sync::Arc;

use crate::types::PortType;

/// An RGBA image in linear light, `f32` per channel, straight (not premultiplied) alpha.
///
/// Pixels are row-major, four channels each. Clones share the pixel buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    width: u32,
    height: u32,
    pixels: Arc<[f32]>,
}

impl Image {
    /// Channels per pixel.
    pub const CHANNELS: usize = 4;

    /// Builds an image, checking that the buffer holds `width * height * 4` floats.
    pub fn new(width: u32, height: u32, pixels: Vec<f32>) -> Result<Self, ValueError> {
        let expected = pixel_count(width, height) * Self::CHANNELS;
        if pixels.len() != expected || width == 0 || height == 0 {
            return Err(ValueError::BadBuffer { width, height, expected, actual: pixels.len() });
        }
        Ok(Self { width, height, pixels: pixels.into() })
    }

    /// Builds an image around a shared buffer without copying it (`collect` an exact-size
    /// iterator into an `Arc<[f32]>` to build one in a single allocation).
    pub fn from_shared(width: u32, height: u32, pixels: Arc<[f32]>) -> Result<Self, ValueError> {
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

    /// The RGBA floats, row-major.
    pub fn pixels(&self) -> &[f32] {
        &self.pixels
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
            Value::Image(i) => i.pixels.len() * F32,
            Value::Mask(m) => m.values.len() * F32,
            Value::Text(t) => t.len(),
            Value::VideoFrames(v) => v.frames.iter().map(|f| f.pixels.len() * F32).sum(),
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
            Value::Image(i) => hash_pixels(&mut h, i.width, i.height, &i.pixels),
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
                    hash_pixels(&mut h, f.width, f.height, &f.pixels);
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

fn hash_pixels(h: &mut blake3::Hasher, width: u32, height: u32, data: &[f32]) {
    h.update(&width.to_le_bytes());
    h.update(&height.to_le_bytes());
    hash_floats(h, data);
}

fn hash_floats(h: &mut blake3::Hasher, data: &[f32]) {
    // Hash in chunks to avoid one large temporary byte buffer.
    let mut buf = [0u8; 4096];
    for chunk in data.chunks(buf.len() / 4) {
        for (dst, v) in buf.chunks_exact_mut(4).zip(chunk) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        h.update(&buf[..chunk.len() * 4]);
    }
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
