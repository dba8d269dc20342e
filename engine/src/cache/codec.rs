//! A small, checked binary encoding of node outputs for the disk cache.

use std::sync::Arc;

use crate::value::{Audio, Image, Mask, Value, VideoFrames};

const MAGIC: &[u8; 4] = b"SYC1";
/// The largest width or height decoded, as a guard against corrupt files.
const MAX_SIDE: u32 = 1 << 16;
/// The most floats one decoded buffer may hold (1 GiB of f32).
const MAX_FLOATS: usize = 1 << 28;

/// Encodes values, followed by a blake3 checksum of everything before it.
pub fn encode(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.iter().map(Value::byte_size).sum::<usize>() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        encode_value(&mut out, v);
    }
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

fn encode_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Image(i) => {
            out.push(0);
            put_sized(out, i.width(), i.height(), i.pixels());
        }
        Value::Mask(m) => {
            out.push(1);
            put_sized(out, m.width(), m.height(), m.values());
        }
        Value::Text(t) => {
            out.push(2);
            out.extend_from_slice(&(t.len() as u64).to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        Value::Int(n) => {
            out.push(3);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(4);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Bool(b) => {
            out.push(5);
            out.push(u8::from(*b));
        }
        Value::VideoFrames(v) => {
            out.push(6);
            out.extend_from_slice(&v.fps.to_le_bytes());
            out.extend_from_slice(&(v.frames.len() as u32).to_le_bytes());
            for f in v.frames.iter() {
                put_sized(out, f.width(), f.height(), f.pixels());
            }
        }
        Value::Audio(a) => {
            out.push(7);
            out.extend_from_slice(&a.sample_rate_hz.to_le_bytes());
            out.extend_from_slice(&a.channels.to_le_bytes());
            put_floats(out, &a.samples);
        }
    }
}

fn put_sized(out: &mut Vec<u8>, w: u32, h: u32, data: &[f32]) {
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    put_floats(out, data);
}

fn put_floats(out: &mut Vec<u8>, data: &[f32]) {
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.reserve(data.len() * 4);
    for f in data {
        out.extend_from_slice(&f.to_le_bytes());
    }
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
