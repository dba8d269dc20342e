//! `GET /view` and `POST /upload/image`, `/upload/mask`: ComfyUI's files. Inputs are the
//! tenant's uploads folder (what `LoadImage` reads); outputs are its runs' kept files, named
//! with the run id as the subfolder's first part, so no two runs' files collide.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission};
use crate::outputs::media_type;

/// The longest file or folder name taken.
const NAME_MAX_BYTES: usize = 255;
/// The deepest subfolder taken.
const DEPTH_MAX: usize = 8;
/// Files an upload may be renamed through before it gives up (`name (1).png`, …).
const RENAMES_MAX: usize = 1_000;
/// What may be uploaded, by extension: what Switchyard's nodes read.
const UPLOAD_EXTENSIONS: [&str; 14] =
    ["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "exr", "gif", "wav", "mp3", "flac", "mp4", "webm"];

/// A relative path from untrusted parts: plain names only (no `..`, no root, no hidden
/// files, no control characters), at most `DEPTH_MAX` deep. Public for the fuzz targets.
pub fn safe_path(subfolder: &str, filename: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    let parts = subfolder.split('/').filter(|p| !p.is_empty()).chain(std::iter::once(filename));
    for (n, part) in parts.enumerate() {
        let plain = !part.starts_with('.')
            && part.len() <= NAME_MAX_BYTES
            && !part.chars().any(|c| c.is_control() || c == '\\' || c == ':')
            && matches!(Path::new(part).components().collect::<Vec<_>>().as_slice(), [Component::Normal(_)]);
        if !plain || n > DEPTH_MAX {
            return None;
        }
        path.push(part);
    }
    (!filename.is_empty()).then_some(path)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ViewQuery {
    filename: String,
    #[serde(default)]
    subfolder: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

fn missing(filename: &str) -> ApiError {
    ApiError::not_found(format!("no file {filename:?}"))
}

/// `GET /view?filename&subfolder&type`: an input (`type=input`) or a run's output
/// (`output`, the default, or `temp`). `preview` and `channel` are not applied: the file
/// comes as it is.
pub(crate) async fn view(
    State(app): State<Arc<App>>,
    caller: Caller,
    q: Result<Query<ViewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(super::super::bad_query)?;
    let relative = safe_path(&q.subfolder, &q.filename).ok_or_else(|| missing(&q.filename))?;
    let file = match q.kind.as_deref().unwrap_or("output") {
        "input" => app.uploads(&caller.tenant).join(&relative),
        "output" | "temp" => output_file(&app, &caller.tenant, &relative).await?.ok_or_else(|| missing(&q.filename))?,
        other => {
            return Err(ApiError::bad_request("bad-query", format!("no file type {other:?}"))
                .help("type is input, output or temp"));
        }
    };
    let bytes = tokio::fs::read(&file).await.map_err(|_| missing(&q.filename))?;
    let kind = HeaderValue::from_static(media_type(&q.filename));
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}

/// The local file of the tenant's output `run/name` (`relative`'s first part is the run).
async fn output_file(app: &App, tenant: &str, relative: &Path) -> Result<Option<PathBuf>, ApiError> {
    let mut parts = relative.iter();
    let Some(run) = parts.next().and_then(|r| r.to_str()) else { return Ok(None) };
    let name = parts.as_path().to_string_lossy().into_owned();
    if name.is_empty() || app.store.run(tenant, run).await?.is_none() {
        return Ok(None);
    }
    let outputs = app.store.outputs(tenant, run).await?;
    Ok(outputs.into_iter().find(|o| o.name == name).and_then(|o| app.outputs.local_path(&o.hash)))
}

/// An upload's parts.
#[derive(Default)]
struct Upload {
    name: String,
    bytes: Vec<u8>,
    subfolder: String,
    overwrite: bool,
    kind: String,
    original: Option<Value>,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, ApiError> {
    let bad = |m: String| ApiError::bad_request("bad-upload", m);
    let mut upload = Upload { kind: "input".into(), ..Upload::default() };
    let mut file = false;
    while let Some(field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" => {
                upload.name = field.file_name().unwrap_or_default().to_string();
                upload.bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?.to_vec();
                file = true;
            }
            "subfolder" | "overwrite" | "type" | "original_ref" => {
                let text = field.text().await.map_err(|e| bad(e.body_text()))?;
                match name.as_str() {
                    "subfolder" => upload.subfolder = text,
                    "overwrite" => upload.overwrite = matches!(text.as_str(), "true" | "1"),
                    "type" => upload.kind = text,
                    _ => {
                        upload.original =
                            Some(serde_json::from_str(&text).map_err(|e| bad(format!("original_ref: {e}")))?)
                    }
                }
            }
            _ => {}
        }
    }
    if !file || upload.bytes.is_empty() {
        return Err(bad("the form has no `image` file, or it is empty".into())
            .help("send multipart/form-data with an `image` file part"));
    }
    if upload.kind != "input" {
        return Err(bad(format!("uploads go to `input`, not {:?}", upload.kind)));
    }
    Ok(upload)
}

/// Where an upload goes: its name, or `name (n).ext` when another file has it and
/// `overwrite` is off (the same bytes reuse the file, as ComfyUI does).
fn place(folder: &Path, name: &Path, bytes: &[u8], overwrite: bool) -> Option<PathBuf> {
    let first = folder.join(name);
    if overwrite || !first.exists() || std::fs::read(&first).is_ok_and(|b| b == bytes) {
        return Some(first);
    }
    let stem = name.file_stem()?.to_string_lossy().into_owned();
    let ext = name.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (1..=RENAMES_MAX).map(|n| folder.join(name.with_file_name(format!("{stem} ({n}){ext}")))).find(|p| !p.exists())
}

async fn write_upload(app: &App, tenant: &str, upload: &Upload, bytes: &[u8]) -> Result<Json<Value>, ApiError> {
    let ext = Path::new(&upload.name).extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    if !UPLOAD_EXTENSIONS.contains(&ext.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("cannot take {:?}: uploads are images, sound or video", upload.name),
        )
        .help(format!("name the file with one of: {}", UPLOAD_EXTENSIONS.join(", "))));
    }
    let relative = safe_path(&upload.subfolder, &upload.name).ok_or_else(|| {
        ApiError::bad_request(
            "bad-upload",
            format!("{:?} in {:?} is not a plain file name", upload.name, upload.subfolder),
        )
    })?;
    let folder = app.uploads(tenant);
    let path = place(&folder, &relative, bytes, upload.overwrite)
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "name-taken", "too many files have this name"))?;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(crate::ServerError::Io)?;
    }
    super::super::files::write_whole(&path, bytes).await?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Json(json!({ "name": name, "subfolder": upload.subfolder, "type": "input" })))
}

/// `POST /upload/image` (multipart: `image`, `subfolder`, `overwrite`, `type`): into the
/// tenant's uploads, where its prompts' `LoadImage` nodes read it.
pub(crate) async fn upload_image(
    State(app): State<Arc<App>>,
    caller: Caller,
    form: Multipart,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Run)?;
    let upload = read_upload(form).await?;
    write_upload(&app, &caller.tenant, &upload, &upload.bytes).await
}

/// `POST /upload/mask`: as an image, with `original_ref` `{filename, subfolder, type}`; the
/// mask's alpha becomes the original's alpha, saved as a PNG under the upload's name.
pub(crate) async fn upload_mask(
    State(app): State<Arc<App>>,
    caller: Caller,
    form: Multipart,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Run)?;
    let upload = read_upload(form).await?;
    let bad = |m: String| ApiError::bad_request("bad-upload", m);
    let original = upload.original.as_ref().ok_or_else(|| bad("a mask needs original_ref".into()))?;
    let field = |k: &str| original.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let relative =
        safe_path(&field("subfolder"), &field("filename")).ok_or_else(|| bad("original_ref names no file".into()))?;
    let path = match field("type").as_str() {
        "" | "input" => app.uploads(&caller.tenant).join(&relative),
        _ => output_file(&app, &caller.tenant, &relative).await?.ok_or_else(|| missing(&field("filename")))?,
    };
    let original = tokio::fs::read(&path).await.map_err(|_| missing(&field("filename")))?;
    let png = tokio::task::spawn_blocking({
        let mask = upload.bytes.clone();
        move || masked(&original, &mask)
    })
    .await
    .map_err(|e| bad(e.to_string()))?
    .map_err(bad)?;
    write_upload(&app, &caller.tenant, &upload, &png).await
}

/// `original` with `mask`'s alpha, as PNG bytes.
fn masked(original: &[u8], mask: &[u8]) -> Result<Vec<u8>, String> {
    let mut image = image::load_from_memory(original).map_err(|e| format!("the original: {e}"))?.to_rgba8();
    let mask = image::load_from_memory(mask).map_err(|e| format!("the mask: {e}"))?.to_rgba8();
    if mask.dimensions() != image.dimensions() {
        let (w, h) = image.dimensions();
        return Err(format!("the mask is {:?}, the original {w}x{h}", mask.dimensions()));
    }
    for (pixel, m) in image.pixels_mut().zip(mask.pixels()) {
        pixel.0[3] = m.0[3];
    }
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_taken() {
        let cases = [
            ("", "a.png", Some("a.png")),
            ("run/sub", "a.png", Some("run/sub/a.png")),
            ("", "", None),
            ("..", "a.png", None),
            ("", "../a.png", None),
            ("a/../..", "x", None),
            ("", ".hidden", None),
            ("/etc", "passwd", Some("etc/passwd")),
            ("", "a\\b.png", None),
            ("", "c:x", None),
            ("", "a\u{0}.png", None),
            ("a/b/c/d/e/f/g/h/i", "x.png", None),
        ];
        for (sub, name, want) in cases {
            assert_eq!(safe_path(sub, name), want.map(PathBuf::from), "{sub:?} {name:?}");
        }
    }

    #[test]
    fn an_upload_with_a_taken_name_is_renamed_unless_its_bytes_are_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.png"), b"one").expect("write");
        let name = Path::new("a.png");
        assert_eq!(place(dir.path(), name, b"one", false), Some(dir.path().join("a.png")));
        assert_eq!(place(dir.path(), name, b"two", false), Some(dir.path().join("a (1).png")));
        assert_eq!(place(dir.path(), name, b"two", true), Some(dir.path().join("a.png")));
    }
}
