//! `/v1/keys`: an admin makes, lists and revokes its own tenant's API keys. A token is shown
//! once, when made; listings never hold secrets or their hashes.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission, Role};
use crate::protocol::{KeyCreated, KeyList, KeyRequest, KeyView};
use crate::store::now_ms;

/// The longest a key may be made to last: ten years.
const EXPIRY_MAX_S: i64 = 10 * 366 * 86_400;

/// `POST /v1/keys` `{role, member, expires_in_s}`.
pub(crate) async fn create(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    require(&caller, Permission::Admin)?;
    let req: KeyRequest = super::runs::parse(&body)?;
    let role: Role = req.role.parse().map_err(|e: String| ApiError::bad_request("bad-field", e))?;
    if matches!(role, Role::Worker | Role::Operator) {
        // Workers and operators see every tenant: only the server's operator makes their keys.
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("a tenant may not make {role} keys"))
            .help(format!(
                "the server's operator makes them with `switchyard serve --create-key NAME --role {role}`"
            )));
    }
    let expires_at_ms = match req.expires_in_s {
        Some(s) if (1..=EXPIRY_MAX_S).contains(&s) => Some(now_ms() + s * 1000),
        Some(s) => {
            let message = format!("expires_in_s must be from 1 to {EXPIRY_MAX_S}, not {s}");
            return Err(ApiError::bad_request("bad-field", message));
        }
        None => None,
    };
    if let Some(m) = &req.member {
        crate::keys::check_name("member", m).map_err(|e| ApiError::bad_request("bad-field", e))?;
    }
    let member = req.member.as_deref();
    let (id, token) = crate::keys::create(&app.store, &caller.tenant, role, expires_at_ms, member).await?;
    let key = app.store.keys(&caller.tenant).await?.into_iter().find(|k| k.id == id);
    let key = key.ok_or_else(|| ApiError::from(crate::ServerError::Invalid("the new key vanished".into())))?;
    tracing::info!(key_id = %id, by = %caller.key_id, tenant = %caller.tenant, "key made");
    Ok((StatusCode::CREATED, Json(KeyCreated { key, token })).into_response())
}

/// `GET /v1/keys`.
pub(crate) async fn list(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<KeyList>, ApiError> {
    require(&caller, Permission::Admin)?;
    Ok(Json(KeyList { keys: app.store.keys(&caller.tenant).await? }))
}

/// `POST /v1/keys/{id}/revoke`: the key stops working at once.
pub(crate) async fn revoke(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    require(&caller, Permission::Admin)?;
    let revoked = app.store.revoke_key(&caller.tenant, &id).await?;
    let key = revoked.ok_or_else(|| ApiError::not_found(format!("no key {id}")))?;
    tracing::info!(key_id = %id, by = %caller.key_id, tenant = %caller.tenant, "key revoked");
    Ok(Json(key))
}
