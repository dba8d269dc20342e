//! A small, checked binary encoding of node outputs for the disk cache.

use std::io::{self, Write};
use std::sync::Arc;

use half::f16;

use crate::value::{Audio, Image, Mask, PixelStore, Value, VideoFrames, le_chunks};

const MAGIC: &[u8; 4] = b"SYC1";
/// The largest width or height decoded, as a guard against corrupt files.
const MAX_SIDE: u32 = 1 << 16;
/// The most floats one decoded buffer may hold (1 GiB of f32).
const MAX_FLOATS: usize = 1 << 28;

/// Encodes values, followed by a blake3 checksum of everything before it.
#[cfg(test)]
fn encode(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.iter().map(Value::byte_size).sum::<usize>() + 64);
    // Writing into a Vec cannot fail.
    let _infallible = encode_to(values, &mut out);
    out
}

/// Streams the encoding of [`encode`] into `w`, so a large output never needs a second copy
/// in memory. Returns the bytes written.
pub fn encode_to(values: &[Value], w: &mut impl Write) -> io::Result<u64> {
    let mut out = Hashing { inner: w, hasher: blake3::Hasher::new(), written: 0 };
    out.put(MAGIC)?;
    out.put(&(values.len() as u32).to_le_bytes())?;
    for v in values {
        encode_value(&mut out, v)?;
    }
    let sum = out.hasher.finalize();
    out.put(sum.as_bytes())?;
    Ok(out.written)
}

/// A writer that hashes what passes through it.
struct Hashing<'a, W> {
    inner: &'a mut W,
    hasher: blake3::Hasher,
    written: u64,
}

impl<W: Write> Hashing<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }
}

fn encode_value(out: &mut Hashing<'_, impl Write>, v: &Value) -> io::Result<()> {
    match v {
        Value::Image(i) => put_image(out, i)?,
        Value::Mask(m) => {
            out.put(&[1])?;
            put_sized(out, m.width(), m.height(), m.values())?;
        }
        Value::Text(t) => {
            out.put(&[2])?;
            out.put(&(t.len() as u64).to_le_bytes())?;
            out.put(t.as_bytes())?;
        }
        Value::Int(n) => {
            out.put(&[3])?;
            out.put(&n.to_le_bytes())?;
        }
        Value::Float(f) => {
            out.put(&[4])?;
            out.put(&f.to_le_bytes())?;
        }
        Value::Bool(b) => {
            out.put(&[5, u8::from(*b)])?;
        }
        Value::VideoFrames(v) => {
            out.put(&[6])?;
            out.put(&v.fps.to_le_bytes())?;
            out.put(&(v.frames.len() as u32).to_le_bytes())?;
            for f in v.frames.iter() {
                put_image_body(out, f)?;
            }
        }
        Value::Audio(a) => {
            out.put(&[7])?;
            out.put(&a.sample_rate_hz.to_le_bytes())?;
            out.put(&a.channels.to_le_bytes())?;
            put_floats(out, &a.samples)?;
        }
    }
    Ok(())
}

/// Tag 0 for an `f32` image, 8 for a half-float one.
fn put_image(out: &mut Hashing<'_, impl Write>, img: &Image) -> io::Result<()> {
    out.put(&[if matches!(img.store(), PixelStore::F16(_)) { 8 } else { 0 }])?;
    put_image_body(out, img)
}

fn put_image_body(out: &mut Hashing<'_, impl Write>, img: &Image) -> io::Result<()> {
    match img.store() {
        PixelStore::F32(p) => put_sized(out, img.width(), img.height(), p),
        PixelStore::F16(p) => {
            out.put(&img.width().to_le_bytes())?;
            out.put(&img.height().to_le_bytes())?;
            out.put(&(p.len() as u64).to_le_bytes())?;
            le_chunks(p, f16::to_le_bytes, |b| out.put(b))
        }
    }
}

fn put_sized(out: &mut Hashing<'_, impl Write>, w: u32, h: u32, data: &[f32]) -> io::Result<()> {
    out.put(&w.to_le_bytes())?;
    out.put(&h.to_le_bytes())?;
    put_floats(out, data)
}

fn put_floats(out: &mut Hashing<'_, impl Write>, data: &[f32]) -> io::Result<()> {
    out.put(&(data.len() as u64).to_le_bytes())?;
    le_chunks(data, f32::to_le_bytes, |b| out.put(b))
}

/// Decodes what [`encode`] wrote; any damage gives `None`.
pub fn decode(bytes: &[u8]) -> Option<Vec<Value>> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if blake3::hash(body).as_bytes() != sum {
        return None;
    }
    let mut r = Reader { bytes: body, at: 0 };
    if r.take(4)? != MAGIC {
        return None;
    }
    let count = r.u32()? as usize;
    let mut values = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        values.push(r.value()?);
    }
    (r.at == body.len()).then_some(values)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn floats(&mut self) -> Option<Vec<f32>> {
        let n = usize::try_from(self.u64()?).ok()?;
        if n > MAX_FLOATS {
            return None;
        }
        let raw = self.take(n.checked_mul(4)?)?;
        Some(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    fn halves(&mut self) -> Option<Vec<f16>> {
        let n = usize::try_from(self.u64()?).ok()?;
        if n > MAX_FLOATS * 2 {
            return None;
        }
        let raw = self.take(n.checked_mul(2)?)?;
        Some(raw.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]])).collect())
    }

    fn half_image(&mut self) -> Option<Image> {
        let (w, h) = (self.u32()?, self.u32()?);
        if w > MAX_SIDE || h > MAX_SIDE {
            return None;
        }
        Image::from_half(w, h, self.halves()?.into()).ok()
    }

    fn sized(&mut self) -> Option<(u32, u32, Vec<f32>)> {
        let (w, h) = (self.u32()?, self.u32()?);
        if w > MAX_SIDE || h > MAX_SIDE {
            return None;
        }
        Some((w, h, self.floats()?))
    }

    fn image(&mut self) -> Option<Image> {
        let (w, h, data) = self.sized()?;
        Image::new(w, h, data).ok()
    }

    fn value(&mut self) -> Option<Value> {
        let tag = self.take(1)?[0];
        Some(match tag {
            0 => Value::Image(self.image()?),
            1 => {
                let (w, h, data) = self.sized()?;
                Value::Mask(Mask::new(w, h, data).ok()?)
            }
            2 => {
                let n = usize::try_from(self.u64()?).ok()?;
                Value::Text(Arc::from(std::str::from_utf8(self.take(n)?).ok()?))
            }
            3 => Value::Int(i64::from_le_bytes(self.array()?)),
            4 => Value::Float(f64::from_le_bytes(self.array()?)),
            5 => Value::Bool(self.take(1)?[0] != 0),
            6 => {
                let fps = f64::from_le_bytes(self.array()?);
                let n = self.u32()? as usize;
                let frames = (0..n).map(|_| self.image()).collect::<Option<Vec<_>>>()?;
                Value::VideoFrames(VideoFrames { frames: frames.into(), fps })
            }
            7 => {
                let sample_rate_hz = self.u32()?;
                let channels = u16::from_le_bytes(self.array()?);
                Value::Audio(Audio { samples: self.floats()?.into(), sample_rate_hz, channels })
            }
            8 => Value::Image(self.half_image()?),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let values = vec![
            Value::Image(Image::new(2, 1, vec![0.1, 0.2, 0.3, 1.0, 0.5, 0.5, 0.5, 0.5]).unwrap()),
            Value::Mask(Mask::new(1, 2, vec![0.0, 1.0]).unwrap()),
            Value::Text("prompt".into()),
            Value::Int(-3),
            Value::Float(2.5),
            Value::Bool(true),
            Value::Image(Image::from_half(1, 1, vec![f16::from_f32(0.25); 4].into()).unwrap()),
        ];
        let bytes = encode(&values);
        assert_eq!(decode(&bytes).unwrap(), values);
        for cut in [0, 10, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_none());
        }
        let mut flipped = bytes.clone();
        flipped[12] ^= 1;
        assert!(decode(&flipped).is_none());
    }
}
