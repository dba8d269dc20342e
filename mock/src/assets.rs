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

fn media(asset: Asset) -> (&'static str, Arc<Vec<u8>>) {
    match asset {
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
    let (ctype, bytes) = media(asset);
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
