//! ComfyUI's API on the server, under its own paths and again under `/api/`, as ComfyUI
//! serves it, so that ComfyUI's clients and its web frontend work against Switchyard. Every
//! route needs a key, as the rest of the server does; clients that cannot send a header may
//! send it as a `token` query parameter or the `switchyard_key` cookie (see `auth.rs`).
//!
//! - `prompt.rs`: `POST /prompt` (a prompt becomes a tenant's run), `GET /prompt`;
//! - `history.rs`: `/history`, `/queue`, `/interrupt`, `/jobs`;
//! - `view.rs`: `/view`, `/upload/image`, `/upload/mask`;
//! - `ws.rs`: `/ws`, the run's events in ComfyUI's messages;
//! - `userdata.rs`: `/userdata`, `/v2/userdata`, `/settings`;
//! - `neutral.rs`: `/system_stats`, `/free`, and the endpoints with nothing behind them;
//! - `record.rs`: a prompt's record as those read it.

pub(crate) mod frontend;
mod history;
mod neutral;
mod price;
mod prompt;
mod record;
mod templates;
mod userdata;
mod view;
mod ws;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use indexmap::IndexMap;
use switchyard_session::comfy::ObjectInfo;
use tower_http::limit::RequestBodyLimitLayer;

use super::{ApiError, BODY_MAX_BYTES, require};
use crate::App;
use crate::keys::{Caller, Permission};
pub(crate) use frontend::routes as frontend;
pub(crate) use price::Prices;
pub use prompt::{PromptError, check_prompt};
pub use view::safe_path;

/// The routes, without their prefix.
fn table() -> Vec<(&'static str, MethodRouter<Arc<App>>)> {
    let mut table: Vec<(&'static str, MethodRouter<Arc<App>>)> = vec![
        ("/prompt", get(prompt::queue_remaining).post(prompt::post)),
        ("/history", get(history::history).post(history::clear)),
        ("/history/{id}", get(history::one)),
        ("/queue", get(history::queue).post(history::change_queue)),
        ("/interrupt", post(history::interrupt)),
        ("/jobs", get(history::jobs)),
        ("/jobs/{id}", get(history::job_detail)),
        ("/jobs/{id}/cancel", post(history::cancel_job)),
        ("/view", get(view::view)),
        ("/ws", get(ws::ws)),
        ("/userdata", get(userdata::list)),
        ("/v2/userdata", get(userdata::list_v2)),
        ("/userdata/{file}", get(userdata::get).post(userdata::post).delete(userdata::delete)),
        ("/userdata/{file}/move/{dest}", post(userdata::rename)),
        ("/settings", get(userdata::settings).post(userdata::set_settings)),
        ("/settings/{id}", get(userdata::setting).post(userdata::set_setting)),
        ("/system_stats", get(neutral::system_stats)),
        ("/free", post(neutral::free)),
        ("/users", get(neutral::users)),
        ("/object_info", get(all)),
        ("/object_info/{class}", get(one)),
        ("/templates/index.json", get(templates::index)),
        ("/templates/{file}", get(templates::one)),
    ];
    for (path, reply) in neutral::NEUTRAL {
        table.push((path, get(move |_caller: Caller| async move { Json(reply()) })));
    }
    table.into_iter().map(|(path, route)| (path, route.layer(RequestBodyLimitLayer::new(BODY_MAX_BYTES)))).collect()
}

/// The routes, at ComfyUI's paths and again under `/api/`.
pub(crate) fn routes() -> Router<Arc<App>> {
    let mut router = Router::new();
    let uploads = || RequestBodyLimitLayer::new(super::files::UPLOAD_MAX_BYTES);
    for prefix in ["", "/api"] {
        for (path, route) in table() {
            router = router.route(&format!("{prefix}{path}"), route);
        }
        router = router
            .route(&format!("{prefix}/upload/image"), post(view::upload_image).layer(uploads()))
            .route(&format!("{prefix}/upload/mask"), post(view::upload_mask).layer(uploads()));
    }
    router
}

/// Whether a path is one of ComfyUI's (where a key may come as a query parameter or cookie).
pub(crate) fn is_comfy_path(path: &str) -> bool {
    !path.starts_with("/v1/")
}

/// `GET /object_info`.
async fn all(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<IndexMap<String, ObjectInfo>>, ApiError> {
    require(&caller, Permission::Read)?;
    let mut all = switchyard_session::comfy::object_info(&app.registry);
    let badges = app.comfy_prices.badges(&app, &caller.tenant).await;
    for (name, info) in &mut all {
        info.price_badge = badges.get(name).cloned();
    }
    Ok(Json(all))
}

/// `GET /object_info/{class}`: `{class: info}`, or `{}` for a type this server lacks (as
/// ComfyUI answers).
async fn one(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(class): Path<String>,
) -> Result<Json<IndexMap<String, ObjectInfo>>, ApiError> {
    require(&caller, Permission::Read)?;
    let Some(mut info) = switchyard_session::comfy::object_info_of(&app.registry, &class) else {
        return Ok(Json(IndexMap::new()));
    };
    info.price_badge = app.comfy_prices.badges(&app, &caller.tenant).await.get(&class).cloned();
    Ok(Json(IndexMap::from([(class, info)])))
}
