//! ComfyUI's API on the server, under its own paths and under `/api/`, as ComfyUI serves it,
//! for ComfyUI's clients and frontend (issue 17, in progress). Every route needs a key, as
//! the rest of the server does.
//!
//! - `GET /object_info`, `/object_info/{class}`: Switchyard's node types in ComfyUI's shape.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use indexmap::IndexMap;
use switchyard_session::comfy::ObjectInfo;

use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission};

/// The routes, at ComfyUI's paths and again under `/api/`.
pub(crate) fn routes() -> Router<Arc<App>> {
    let mut router = Router::new();
    for prefix in ["", "/api"] {
        router = router
            .route(&format!("{prefix}/object_info"), get(all))
            .route(&format!("{prefix}/object_info/{{class}}"), get(one));
    }
    router
}

/// `GET /object_info`.
async fn all(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<IndexMap<String, ObjectInfo>>, ApiError> {
    require(&caller, Permission::Read)?;
    Ok(Json(switchyard_session::comfy::object_info(&app.registry)))
}

/// `GET /object_info/{class}`: `{class: info}`, or `{}` for a type this server lacks (as
/// ComfyUI answers).
async fn one(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(class): Path<String>,
) -> Result<Json<IndexMap<String, ObjectInfo>>, ApiError> {
    require(&caller, Permission::Read)?;
    let info = switchyard_session::comfy::object_info_of(&app.registry, &class);
    Ok(Json(info.map(|info| IndexMap::from([(class, info)])).unwrap_or_default()))
}
