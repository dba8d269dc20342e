//! Real, decodable images for the mock's replies, and the download route for result URLs.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::{Fault, State, hang};

/// Encoded PNGs by size.
type PngCache = Mutex<HashMap<(u32, u32), Arc<Vec<u8>>>>;

static PNGS: LazyLock<PngCache> = LazyLock::new(Mutex::default);

/// A `w` x `h` PNG (a colour gradient, so it is visibly an image), encoded once per size.
pub fn png(w: u32, h: u32) -> Arc<Vec<u8>> {
    let mut cache = PNGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let bytes = cache.entry((w, h)).or_insert_with(|| {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 160])
        });
        let mut out = Cursor::new(Vec::new());
        // Encoding into memory cannot fail for a valid RGB buffer.
        let _ = img.write_to(&mut out, image::ImageFormat::Png);
        Arc::new(out.into_inner())
    });
    Arc::clone(bytes)
}

pub fn routes() -> Router<Arc<State>> {
    Router::new().route("/files/{name}", get(download))
}

/// `GET /files/{task}.png`: a task's result, as a signed delivery URL would serve it (no auth).
async fn download(Axum(st): Axum<Arc<State>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let fault = st.arrive("files", "GET", &format!("/files/{name}"), &headers, &[]);
    let id = name.trim_end_matches(".png");
    let size = st.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).map(|t| (t.width, t.height));
    let Some((w, h)) = size else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let bytes = png(w, h);
    match fault {
        Some(Fault::Truncated) => {
            let cut = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
            let len = bytes.len().to_string();
            ([("content-type", "image/png".to_string()), ("content-length", len)], cut).into_response()
        }
        Some(Fault::Hang) => hang().await,
        Some(Fault::Status { status, .. }) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "error").into_response()
        }
        _ => ([("content-type", "image/png")], Bytes::copy_from_slice(&bytes)).into_response(),
    }
}
