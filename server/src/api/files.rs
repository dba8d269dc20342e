//! Files: a run's outputs (listed, and downloaded by hash with `Range`, for video) and
//! uploads (content-addressed inputs, the only files a server's workflows may read).

use std::io::SeekFrom;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission};
use crate::outputs::{Wanted, byte_range, is_hash, media_type};
use crate::protocol::{OutputList, OutputView, UploadReply};

/// The largest upload.
pub const UPLOAD_MAX_BYTES: usize = 256 * 1024 * 1024;

/// `GET /v1/runs/{id}/outputs`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<OutputList>, ApiError> {
    if app.store.run(&caller.tenant, &id).await?.is_none() {
        return Err(ApiError::not_found(format!("no run {id}")));
    }
    let outputs = app.store.outputs(&caller.tenant, &id).await?;
    let outputs = outputs
        .into_iter()
        .map(|o| OutputView {
            url: format!("/v1/outputs/{}", o.hash),
            name: o.name,
            hash: o.hash,
            bytes: o.bytes,
            media_type: o.media_type,
        })
        .collect();
    Ok(Json(OutputList { outputs }))
}

/// `GET /v1/outputs/{hash}`: the bytes of one of the caller's outputs; one `Range` is
/// honoured (206), an unsatisfiable one is refused (416).
pub(crate) async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found(format!("no output {hash}"));
    if !is_hash(&hash) {
        return Err(missing());
    }
    let output = app.store.output(&caller.tenant, &hash).await?.ok_or_else(missing)?;
    let path = app.outputs.local_path(&hash).ok_or_else(missing)?;
    let mut file = tokio::fs::File::open(&path).await.map_err(|_| missing())?;
    let size = file.metadata().await.map_err(|_| missing())?.len();
    let asked = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, len) = match byte_range(asked, size) {
        Wanted::Range(start, end) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Wanted::Whole => (StatusCode::OK, 0, size),
        Wanted::Unsatisfiable => {
            let message = format!("the output has {size} bytes");
            return Err(ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "bad-range", message));
        }
    };
    file.seek(SeekFrom::Start(start)).await.map_err(|_| missing())?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)));
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&output.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{size}", start + len - 1);
        if let Ok(v) = HeaderValue::from_str(&range) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// The extension an upload is stored under, from its media type.
fn extension(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ext = match kind.split(';').next().unwrap_or_default().trim() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/tiff" => "tiff",
        "image/bmp" => "bmp",
        "image/x-exr" => "exr",
        "audio/wav" | "audio/x-wav" => "wav",
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!("cannot take an upload of {other:?}"),
            )
            .help("send the file's bytes with Content-Type image/png, image/jpeg, image/webp, image/tiff, image/bmp, image/x-exr or audio/wav"));
        }
    };
    Ok(ext)
}

/// Writes `bytes` to `path` whole or not at all: into a hidden partial file beside it, then
/// renamed over it.
pub(crate) async fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<(), crate::ServerError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.{}", uuid::Uuid::now_v7().simple()));
    let written = tokio::fs::write(&partial, bytes).await.and(tokio::fs::rename(&partial, path).await);
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(crate::ServerError::Io(e));
    }
    Ok(())
}

/// `POST /v1/uploads`: the body is the file. It is stored by content as `{hash}.{ext}` in the
/// tenant's uploads folder; the tenant's workflows read it with that path (`image.load`'s
/// `path`), and no other tenant's can.
pub(crate) async fn upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, Permission::Run)?;
    let ext = extension(&headers)?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty-upload", "the upload has no bytes"));
    }
    let hash = blake3::hash(&body).to_hex().to_string();
    let name = format!("{hash}.{ext}");
    let folder = app.uploads(&caller.tenant);
    tokio::fs::create_dir_all(&folder).await.map_err(crate::ServerError::Io)?;
    let path = folder.join(&name);
    if !path.is_file() {
        write_whole(&path, &body).await?;
    }
    let reply = UploadReply { media_type: media_type(&name).to_string(), path: name, hash, bytes: body.len() as u64 };
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}
