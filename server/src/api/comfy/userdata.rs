//! ComfyUI's user data (`/userdata`, `/v2/userdata`) and settings (`/settings`), kept in the
//! server's store per tenant: where ComfyUI's frontend saves workflows
//! (`workflows/NAME.json`) and its settings (`comfy.settings.json`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission};
use crate::store::UserFile;

/// Where the frontend's settings are kept.
const SETTINGS: &str = "comfy.settings.json";
/// The largest file kept.
pub(crate) const FILE_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Files one tenant may keep.
const FILES_MAX: usize = 10_000;

/// The deepest user-data path taken.
const DEPTH_MAX: usize = 8;
/// The longest name in a user-data path.
const NAME_MAX_BYTES: usize = 255;

/// A user-data path: names separated by `/`, as ComfyUI takes them (never `.` or `..`, no
/// control characters, at most `DEPTH_MAX` deep). It names a row, never a file on disk.
fn checked(path: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.len() <= NAME_MAX_BYTES
            && !p.chars().any(|c| c.is_control() || c == '\\')
    };
    if parts.len() > DEPTH_MAX || !parts.iter().all(plain) {
        return Err(ApiError::bad_request(
            "bad-path",
            format!("{:?} is not a plain relative path", path.chars().take(80).collect::<String>()),
        )
        .help("use names separated by '/', without '.' or '..'"));
    }
    Ok(parts.join("/"))
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    dir: String,
    recurse: Option<String>,
    full_info: Option<String>,
    split: Option<String>,
}

fn flag(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v.is_empty() || v == "true" || v == "1")
}

/// `GET /userdata?dir&recurse&full_info&split`: the files under `dir` (404 when it has none).
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let Query(q) = q.map_err(super::super::bad_query)?;
    let dir = q.dir.trim_end_matches('/');
    let prefix = if dir.is_empty() { String::new() } else { format!("{}/", checked(dir)?) };
    let files = app.store.user_files(&caller.tenant, &prefix).await?;
    if files.is_empty() {
        return Err(ApiError::not_found(format!("no folder {dir:?}")));
    }
    let recurse = flag(&q.recurse);
    let listed = files.iter().filter_map(|f| {
        let path = &f.path[prefix.len()..];
        (recurse || !path.contains('/')).then_some((path, f))
    });
    Ok(Json(
        listed
            .map(|(path, f)| match (flag(&q.full_info), flag(&q.split)) {
                (true, _) => json!({ "path": path, "size": f.bytes, "modified": seconds(f.modified_ms) }),
                (false, true) => {
                    let mut parts = vec![json!(path)];
                    parts.extend(path.split('/').map(|p| json!(p)));
                    Value::Array(parts)
                }
                (false, false) => json!(path),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2Query {
    #[serde(default)]
    path: String,
}

/// `GET /v2/userdata?path`: the files and folders directly in `path`.
pub(crate) async fn list_v2(
    State(app): State<Arc<App>>,
    caller: Caller,
    q: Result<Query<V2Query>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let Query(q) = q.map_err(super::super::bad_query)?;
    let dir = q.path.trim_matches('/');
    let prefix = if dir.is_empty() { String::new() } else { format!("{}/", checked(dir)?) };
    let files: Vec<UserFile> = app.store.user_files(&caller.tenant, &prefix).await?;
    let mut entries: Vec<Value> = Vec::new();
    let mut folders: Vec<&str> = Vec::new();
    for f in &files {
        let rest = &f.path[prefix.len()..];
        match rest.split_once('/') {
            Some((folder, _)) if !folders.contains(&folder) => {
                folders.push(folder);
                entries.push(json!({ "name": folder, "path": format!("{prefix}{folder}"), "type": "directory" }));
            }
            Some(_) => {}
            None => entries.push(json!({
                "name": rest, "path": f.path, "type": "file", "size": f.bytes, "modified": seconds(f.modified_ms),
            })),
        }
    }
    Ok(Json(entries))
}

/// `GET /userdata/{file}`.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let path = checked(&file)?;
    let (body, _) = app
        .store
        .user_file(&caller.tenant, &path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no file {path:?}")))?;
    let kind = HeaderValue::from_static(crate::outputs::media_type(&path));
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WriteQuery {
    overwrite: Option<String>,
    full_info: Option<String>,
}

/// Whether `overwrite` is on: ComfyUI's default is to overwrite.
fn overwrite(q: &WriteQuery) -> bool {
    q.overwrite.as_deref().is_none_or(|v| v != "false" && v != "0")
}

fn written(path: &str, bytes: usize, full_info: bool) -> Json<Value> {
    match full_info {
        true => Json(json!({ "path": path, "size": bytes, "modified": seconds(crate::store::now_ms()) })),
        false => Json(json!(path)),
    }
}

fn conflict(path: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "file-exists", format!("{path:?} exists"))
        .help("post with overwrite=true to replace it")
}

/// `POST /userdata/{file}?overwrite&full_info`: the body is the file (UTF-8 text).
pub(crate) async fn post(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(file): Path<String>,
    q: Result<Query<WriteQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Run)?;
    let Query(q) = q.map_err(super::super::bad_query)?;
    let path = checked(&file)?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-text", "user data is kept as UTF-8 text")
    })?;
    if app.store.user_files(&caller.tenant, "").await?.len() >= FILES_MAX
        && app.store.user_file(&caller.tenant, &path).await?.is_none()
    {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "too-many-files",
            format!("a tenant keeps at most {FILES_MAX} files"),
        ));
    }
    if !app.store.put_user_file(&caller.tenant, &path, text, overwrite(&q)).await? {
        return Err(conflict(&path));
    }
    crate::api::library::comfy::saved(&app, &caller, &path, text).await;
    Ok(written(&path, body.len(), flag(&q.full_info)))
}

/// `DELETE /userdata/{file}`.
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(file): Path<String>,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    let path = checked(&file)?;
    match app.store.delete_user_file(&caller.tenant, &path).await? {
        true => {
            crate::api::library::comfy::moved(&app, &caller, &path, None).await;
            Ok(StatusCode::NO_CONTENT)
        }
        false => Err(ApiError::not_found(format!("no file {path:?}"))),
    }
}

/// `POST /userdata/{file}/move/{dest}?overwrite&full_info`.
pub(crate) async fn rename(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((file, dest)): Path<(String, String)>,
    q: Result<Query<WriteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Run)?;
    let Query(q) = q.map_err(super::super::bad_query)?;
    let (from, to) = (checked(&file)?, checked(&dest)?);
    match app.store.move_user_file(&caller.tenant, &from, &to, overwrite(&q)).await? {
        None => Err(ApiError::not_found(format!("no file {from:?}"))),
        Some(false) => Err(conflict(&to)),
        Some(true) => {
            crate::api::library::comfy::moved(&app, &caller, &from, Some(&to)).await;
            let bytes = app.store.user_file(&caller.tenant, &to).await?.map_or(0, |(b, _)| b.len());
            Ok(written(&to, bytes, flag(&q.full_info)))
        }
    }
}

async fn settings_of(app: &App, tenant: &str) -> Result<Map<String, Value>, ApiError> {
    let kept = app.store.user_file(tenant, SETTINGS).await?;
    Ok(kept.and_then(|(body, _)| serde_json::from_str(&body).ok()).unwrap_or_default())
}

async fn keep_settings(app: &App, tenant: &str, settings: &Map<String, Value>) -> Result<(), ApiError> {
    let text = Value::Object(settings.clone()).to_string();
    if text.len() > FILE_MAX_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "the settings are too large"));
    }
    app.store.put_user_file(tenant, SETTINGS, &text, true).await?;
    Ok(())
}

/// `GET /settings`.
pub(crate) async fn settings(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(settings_of(&app, &caller.tenant).await?))
}

/// `GET /settings/{id}`: the value, or `null`.
pub(crate) async fn setting(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(settings_of(&app, &caller.tenant).await?.remove(&id).unwrap_or(Value::Null)))
}

/// `POST /settings`: merges an object of settings.
pub(crate) async fn set_settings(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    let changes: Map<String, Value> = super::super::runs::parse(&body)?;
    let mut settings = settings_of(&app, &caller.tenant).await?;
    settings.extend(changes);
    keep_settings(&app, &caller.tenant, &settings).await?;
    Ok(StatusCode::OK)
}

/// `POST /settings/{id}`: the body is the value.
pub(crate) async fn set_setting(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Run)?;
    let value: Value = super::super::runs::parse(&body)?;
    let mut settings = settings_of(&app, &caller.tenant).await?;
    settings.insert(id, value);
    keep_settings(&app, &caller.tenant, &settings).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_paths_are_plain_names() {
        let cases = [
            ("workflows/a.json", Some("workflows/a.json")),
            ("workflows/.index.json", Some("workflows/.index.json")),
            ("comfy.settings.json", Some("comfy.settings.json")),
            ("../server.db", None),
            ("workflows/../../x", None),
            ("/abs", None),
            ("a//b", None),
            ("a/./b", None),
            ("a\\b", None),
            ("a\u{1}b", None),
            ("", None),
            ("1/2/3/4/5/6/7/8/9", None),
        ];
        for (path, want) in cases {
            assert_eq!(checked(path).ok().as_deref(), want, "{path:?}");
        }
    }
}
