//! Real, decodable results for the mock's replies (PNG and JPEG images, a short H.264 clip,
//! 16-bit PCM speech-band audio), and the download route for result URLs.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::{Asset, Fault, State, hang};

/// Encoded images by size and format.
type ImageCache = Mutex<HashMap<(u32, u32, bool), Arc<Vec<u8>>>>;

static IMAGES: LazyLock<ImageCache> = LazyLock::new(Mutex::default);

/// A 1 s, 160x96 H.264 test pattern (made by `scripts/make-mock-video`).
pub static CLIP_MP4: &[u8] = include_bytes!("../assets/clip.mp4");

/// A `w` x `h` PNG (a colour gradient, so it is visibly an image), encoded once per size.
pub fn png(w: u32, h: u32) -> Arc<Vec<u8>> {
    encoded(w, h, false)
}

/// The same gradient as a JPEG.
pub fn jpeg(w: u32, h: u32) -> Arc<Vec<u8>> {
    encoded(w, h, true)
}

/// A `w` x `h` PNG whose left half is transparent, as a background remover returns.
pub fn cutout_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, _| image::Rgba([200, 80, 40, if x < w / 2 { 0 } else { 255 }]));
    let mut out = Cursor::new(Vec::new());
    // Encoding into memory cannot fail for a valid RGBA buffer.
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

fn encoded(w: u32, h: u32, jpeg: bool) -> Arc<Vec<u8>> {
    let mut cache = IMAGES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let bytes = cache.entry((w, h, jpeg)).or_insert_with(|| {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 160])
        });
        let mut out = Cursor::new(Vec::new());
        let format = if jpeg { image::ImageFormat::Jpeg } else { image::ImageFormat::Png };
        // Encoding into memory cannot fail for a valid RGB buffer.
        let _ = img.write_to(&mut out, format);
        Arc::new(out.into_inner())
    });
    Arc::clone(bytes)
}

/// `chars` characters' worth of 16-bit little-endian mono PCM at `rate_hz`: a 220 Hz tone
/// whose loudness rises and falls like syllables, 60 ms per character.
pub fn speech_pcm(chars: usize, rate_hz: u32) -> Vec<u8> {
    let n = (chars.max(1) as f64 * 0.06 * f64::from(rate_hz)) as usize;
    let rate = f64::from(rate_hz);
    (0..n)
        .flat_map(|i| {
            let t = i as f64 / rate;
            let envelope = (t * std::f64::consts::PI * 4.0).sin().abs();
            let v = (t * 220.0 * std::f64::consts::TAU).sin() * envelope * 0.4;
            ((v * 32767.0) as i16).to_le_bytes()
        })
        .collect()
}

/// A `w` x `h` PNG made from `input`: resized, warmed a little (so a result differs visibly
/// from its input), and with `cutout` a soft oval subject on transparency, as a background
/// remover returns. `None` when the input does not decode.
///
/// Cheap on purpose (a mock answers many requests at once, unoptimised in tests): nearest
/// sampling, and a stored (uncompressed) PNG.
pub fn from_input(input: &[u8], (w, h): (u32, u32), cutout: bool) -> Option<Vec<u8>> {
    use image::ImageEncoder as _;
    let src = image::load_from_memory(input).ok()?.into_rgba8();
    let (sw, sh) = src.dimensions();
    let (w, h) = (w.max(1), h.max(1));
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let mut p = *src.get_pixel(
            (u64::from(x) * u64::from(sw) / u64::from(w)) as u32,
            (u64::from(y) * u64::from(sh) / u64::from(h)) as u32,
        );
        p.0[0] = p.0[0].saturating_add(12);
        p.0[2] = p.0[2].saturating_sub(12);
        if cutout {
            let (dx, dy) = ((f64::from(x) - cx) / (cx * 0.8), (f64::from(y) - cy) / (cy * 0.9));
            let r = (dx * dx + dy * dy).sqrt();
            p.0[3] = (((1.1 - r) / 0.2).clamp(0.0, 1.0) * 255.0) as u8;
        }
        p
    });
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Uncompressed,
        image::codecs::png::FilterType::NoFilter,
    );
    encoder.write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgba8).ok()?;
    Some(out)
}

fn media(asset: Asset, source: Option<&[u8]>) -> (&'static str, Arc<Vec<u8>>) {
    let made = |size, cutout| source.and_then(|s| from_input(s, size, cutout)).map(Arc::new);
    match asset {
        Asset::Png(w, h) if source.is_some() => ("image/png", made((w, h), false).unwrap_or_else(|| png(w, h))),
        Asset::Cutout(w, h) if source.is_some() => {
            ("image/png", made((w, h), true).unwrap_or_else(|| Arc::new(cutout_png(w, h))))
        }
        Asset::Png(w, h) => ("image/png", png(w, h)),
        Asset::Jpeg(w, h) => ("image/jpeg", jpeg(w, h)),
        Asset::Mp4 => ("video/mp4", Arc::new(CLIP_MP4.to_vec())),
        Asset::Cutout(w, h) => ("image/png", Arc::new(cutout_png(w, h))),
    }
}

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/files/{name}", get(download))
}

/// `GET /files/{task}.{ext}`: a task's result, as a signed delivery URL would serve it (no auth).
async fn download(Axum(st): Axum<Arc<State>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let fault = st.arrive("files", "GET", &format!("/files/{name}"), &headers, &[]);
    let id = name.split('.').next().unwrap_or_default();
    let Some(asset) = st.asset(id) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let source = st.source(id);
    let (ctype, bytes) = media(asset, source.as_deref().map(Vec::as_slice));
    match fault {
        Some(Fault::Truncated) => {
            // Promises the whole length, sends half, then breaks the connection.
            let cut = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
            let chunks: [Result<Bytes, std::io::Error>; 2] =
                [Ok(cut), Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut"))];
            let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
            let len = bytes.len().to_string();
            ([("content-type", ctype.to_string()), ("content-length", len)], body).into_response()
        }
        Some(Fault::Hang) => hang().await,
        Some(Fault::Status { status, .. }) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "error").into_response()
        }
        _ => ([("content-type", ctype)], Bytes::copy_from_slice(&bytes)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> image::RgbaImage {
        image::load_from_memory(bytes).unwrap().into_rgba8()
    }

    /// An upscale or image-to-image result follows its input: the requested size, the input's
    /// picture (a red left half stays red), warmed a little; a cutout keeps the subject.
    #[test]
    fn results_made_from_an_input_look_like_it() {
        let input = image::RgbaImage::from_fn(32, 16, |x, _| {
            if x < 16 { image::Rgba([200, 30, 30, 255]) } else { image::Rgba([30, 30, 200, 255]) }
        });
        let mut bytes = Cursor::new(Vec::new());
        input.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let up = decode(&from_input(bytes.get_ref(), (128, 64), false).unwrap());
        assert_eq!(up.dimensions(), (128, 64));
        let (left, right) = (up.get_pixel(10, 32).0, up.get_pixel(118, 32).0);
        assert!(left[0] > 200 && left[2] < 30, "the red half stays red, warmer: {left:?}");
        assert!(right[2] > 170 && right[0] < 60, "the blue half stays blue: {right:?}");
        let cut = decode(&from_input(bytes.get_ref(), (64, 32), true).unwrap());
        assert_eq!((cut.get_pixel(0, 0).0[3], cut.get_pixel(32, 16).0[3]), (0, 255), "corners clear, subject kept");
        assert!(from_input(b"not an image", (8, 8), false).is_none());
    }
}
