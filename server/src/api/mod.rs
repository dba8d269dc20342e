//! The HTTP API under `/v1`, plus `/healthz` and `/readyz`. Every `/v1` route needs a key
//! (`Authorization: Bearer sy_…`); errors are JSON `{"error": {"code", "message", "help"}}`.

mod accounts;
mod billing;
mod catalog;
pub(crate) mod comfy;
mod credits;
mod dashboard;
mod doctor;
mod events;
mod farm;
mod farm_work;
mod files;
mod keys;
mod library;
mod openapi;
mod runs;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::keys::{Caller, Permission};
use crate::protocol::{AccountList, GrantReply, GrantRequest, MemberList, MemberRequest, MemberView, TopupRequest};
use crate::protocol::{
    CancelReply, KeyCreated, KeyList, KeyRequest, KeyView, MoveReply, MoveRequest, OutputList, PriorityReply,
    PriorityRequest, QueueReply, RunPage, RunView, SubmitRequest, UploadReply,
};
use crate::protocol::{DoctorReply, HoldList, NodeTypes, QuoteReply, TransferList, WalletView};
use crate::protocol::{FarmCancelReply, FarmFileList, FarmRunPage, FarmRunView, FarmSubmitRequest};
use crate::{App, ServerError};
pub(crate) use doctor::Probe;
pub use farm::check_farm_submit;
pub use farm_work::check_work_body;
pub use library::check_push;
use openapi::Doc;
pub use runs::check_submit;

/// The largest request body: a workflow of the largest allowed size fits well within it.
pub const BODY_MAX_BYTES: usize = 8 * 1024 * 1024;
/// How long a request may take, slow clients included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `/v1` routes with their documentation: the router and the OpenAPI document are both
/// built from this table. Each route has its own body limit.
fn v1_routes() -> Vec<(Doc, MethodRouter<Arc<App>>)> {
    let limit = |route: MethodRouter<Arc<App>>, bytes: usize| route.layer(RequestBodyLimitLayer::new(bytes));
    let body = |route| limit(route, BODY_MAX_BYTES);
    let mut table = vec![
        (
            Doc::new("post", "/runs", "Validate, quote and queue a run (Idempotency-Key replays)")
                .body::<SubmitRequest>()
                .reply::<RunView>(201)
                .errors(&[400, 402, 403, 413, 422]),
            body(post(runs::submit)),
        ),
        (
            Doc::new("get", "/runs", "The tenant's runs, newest first")
                .query(&[("state", "string"), ("limit", "integer"), ("cursor", "string")])
                .reply::<RunPage>(200)
                .errors(&[400]),
            body(get(runs::list)),
        ),
        (Doc::new("get", "/runs/{id}", "One run").reply::<RunView>(200).errors(&[404]), body(get(runs::show))),
        (
            Doc::new("post", "/runs/{id}/cancel", "Cancel a run").reply::<CancelReply>(200).errors(&[403, 404]),
            body(post(runs::cancel)),
        ),
        (
            Doc::new("post", "/runs/{id}/priority", "Change a waiting run's priority")
                .body::<PriorityRequest>()
                .reply::<PriorityReply>(200)
                .errors(&[400, 403, 404, 409]),
            body(post(runs::priority)),
        ),
        (
            Doc::new("post", "/runs/{id}/move", "Move a waiting run to the front or back of its account's line")
                .body::<MoveRequest>()
                .reply::<MoveReply>(200)
                .errors(&[400, 403, 404, 409]),
            body(post(runs::move_run)),
        ),
        (
            Doc::new("get", "/runs/{id}/outputs", "A run's output files").reply::<OutputList>(200).errors(&[404]),
            body(get(files::list)),
        ),
        (
            Doc::new("get", "/outputs/{hash}", "Download an output (one Range honoured)")
                .file_reply()
                .errors(&[404, 416]),
            body(get(files::download)),
        ),
        (
            Doc::new("get", "/events", "Run and node events, as a WebSocket")
                .query(&[("run", "string"), ("after", "integer"), ("previews", "boolean")])
                .upgrade()
                .errors(&[400, 404, 503]),
            body(get(events::events)),
        ),
        (
            Doc::new("post", "/queue/pause", "Pause the tenant's queue").reply::<QueueReply>(200).errors(&[403]),
            body(post(runs::pause)),
        ),
        (
            Doc::new("post", "/queue/resume", "Resume the tenant's queue").reply::<QueueReply>(200).errors(&[403]),
            body(post(runs::resume)),
        ),
        (
            Doc::new("post", "/quote", "Quote a submission without running it")
                .body::<SubmitRequest>()
                .reply::<QuoteReply>(200)
                .errors(&[400, 413]),
            body(post(catalog::quote)),
        ),
        (
            Doc::new("get", "/nodes", "The node types this server runs").reply::<NodeTypes>(200),
            body(get(catalog::nodes)),
        ),
        (
            Doc::new("get", "/catalog", "The provider catalog (models, prices, regions)")
                .reply::<serde_json::Value>(200),
            body(get(catalog::catalog)),
        ),
        (
            Doc::new("get", "/credits/{account}", "One of the tenant's wallets: balance and plan")
                .reply::<WalletView>(200)
                .errors(&[400, 404]),
            body(get(credits::balance)),
        ),
        (
            Doc::new("get", "/credits/{account}/history", "A wallet's audit trail (format=json or csv)")
                .query(&[("format", "string")])
                .reply::<TransferList>(200)
                .errors(&[400, 404]),
            body(get(credits::history)),
        ),
        (
            Doc::new("get", "/credits/{account}/holds", "A wallet's holds").reply::<HoldList>(200).errors(&[400, 404]),
            body(get(credits::holds)),
        ),
        (
            Doc::new("get", "/accounts", "The tenant's accounts (wallets): balances and plans")
                .reply::<AccountList>(200),
            body(get(accounts::list)),
        ),
        (
            Doc::new("post", "/accounts/{account}/grants", "Grant a plan's credits for this month (billing)")
                .body::<GrantRequest>()
                .reply::<GrantReply>(201)
                .errors(&[400, 403]),
            body(post(accounts::grant)),
        ),
        (
            Doc::new("post", "/accounts/{account}/topups", "Add a bought pack, once per payment (billing)")
                .body::<TopupRequest>()
                .reply::<GrantReply>(201)
                .errors(&[400, 403, 409]),
            body(post(accounts::topup)),
        ),
        (
            Doc::new("get", "/accounts/{account}/members", "A team account's members, caps and use")
                .reply::<MemberList>(200)
                .errors(&[400, 404]),
            body(get(accounts::members)),
        ),
        (
            Doc::new("put", "/accounts/{account}/members/{member}", "Add a member or set their monthly cap (billing)")
                .body::<MemberRequest>()
                .reply::<MemberView>(200)
                .errors(&[400, 403, 404]),
            body(put(accounts::set_member)),
        ),
        (
            Doc::new("get", "/doctor", "The server machine: local work it can do, storage and queue (admin)")
                .reply::<DoctorReply>(200)
                .errors(&[403]),
            body(get(doctor::doctor)),
        ),
        (
            Doc::new("post", "/keys", "Make an API key for the tenant (its token is shown once)")
                .body::<KeyRequest>()
                .reply::<KeyCreated>(201)
                .errors(&[400, 403]),
            body(post(keys::create)),
        ),
        (Doc::new("get", "/keys", "The tenant's API keys").reply::<KeyList>(200).errors(&[403]), body(get(keys::list))),
        (
            Doc::new("post", "/keys/{id}/revoke", "Revoke an API key").reply::<KeyView>(200).errors(&[403, 404]),
            body(post(keys::revoke)),
        ),
        (
            Doc::new("post", "/farm/runs", "Queue a batch run on the render farm (serve --farm)")
                .body::<FarmSubmitRequest>()
                .reply::<FarmRunView>(201)
                .errors(&[400, 402, 403, 404, 413]),
            body(post(farm::submit)),
        ),
        (
            Doc::new("get", "/farm/runs", "The tenant's farm runs, newest first")
                .query(&[("limit", "integer"), ("cursor", "string")])
                .reply::<FarmRunPage>(200)
                .errors(&[400, 404]),
            body(get(farm::list)),
        ),
        (
            Doc::new("get", "/farm/runs/{id}", "A farm run: its tasks and where they stand")
                .reply::<FarmRunView>(200)
                .errors(&[404]),
            body(get(farm::show)),
        ),
        (
            Doc::new("post", "/farm/runs/{id}/cancel", "Cancel a farm run's waiting and running tasks")
                .reply::<FarmCancelReply>(200)
                .errors(&[403, 404]),
            body(post(farm::cancel)),
        ),
        (
            Doc::new("post", "/farm/runs/{id}/pause", "Pause a farm run (its running tasks stop within a second)")
                .reply::<FarmRunView>(200)
                .errors(&[403, 404]),
            body(post(farm::pause)),
        ),
        (
            Doc::new("post", "/farm/runs/{id}/resume", "Resume a paused farm run")
                .reply::<FarmRunView>(200)
                .errors(&[403, 404]),
            body(post(farm::resume)),
        ),
        (
            Doc::new("post", "/farm/runs/{id}/priority", "Set the priority of a farm run's tasks not yet started")
                .body::<PriorityRequest>()
                .reply::<FarmRunView>(200)
                .errors(&[400, 403, 404]),
            body(post(farm::priority)),
        ),
        (
            Doc::new("get", "/farm/runs/{id}/files", "The files a farm run wrote")
                .reply::<FarmFileList>(200)
                .errors(&[404]),
            body(get(farm::files)),
        ),
        (
            Doc::new(
                "get",
                "/farm/runs/{id}/files/{name}",
                "Download a file a farm run wrote (NAME may hold subfolders)",
            )
            .rest_of_path()
            .errors(&[404]),
            body(get(farm::download)),
        ),
        (
            Doc::new("post", "/uploads", "Upload an input file, stored by content")
                .file_body()
                .reply::<UploadReply>(201)
                .errors(&[400, 403, 413, 415]),
            limit(post(files::upload), files::UPLOAD_MAX_BYTES),
        ),
    ];
    table.extend(library::routes().into_iter().map(|(doc, route)| (doc, body(route))));
    table.extend([
        (
            Doc::new(
                "get",
                "/billing/reviews",
                "The tenant's review queue: fraud hits, disputes, refunds of spent credit (billing)",
            )
            .query(&[("open", "boolean")])
            .reply::<serde_json::Value>(200)
            .errors(&[403]),
            body(get(billing::tenant_reviews)),
        ),
        (
            Doc::new(
                "get",
                "/billing/audit",
                "The tenant's billing audit trail: payments, dunning, freezes, reviews (billing)",
            )
            .reply::<serde_json::Value>(200)
            .errors(&[403]),
            body(get(billing::audit)),
        ),
        (
            Doc::new("get", "/billing/alerts", "The tenant's alert endpoint and its latest deliveries (billing)")
                .reply::<serde_json::Value>(200)
                .errors(&[403]),
            body(get(billing::alert_deliveries)),
        ),
        (
            Doc::new(
                "put",
                "/billing/alerts",
                "Set where usage alerts go, their thresholds and monthly budgets (billing)",
            )
            .body::<serde_json::Value>()
            .reply::<serde_json::Value>(200)
            .errors(&[400, 403]),
            body(put(billing::set_alerts)),
        ),
    ]);
    table
}

/// The `/v1` routes as documented (for tests and the document).
pub fn documented_routes() -> Vec<(&'static str, &'static str)> {
    v1_routes().into_iter().map(|(d, _)| (d.method, d.path)).collect()
}

/// The routes, over the shared state.
pub(crate) fn router(app: Arc<App>) -> Router {
    let table = v1_routes();
    let docs: Vec<Doc> = table.iter().map(|(d, _)| d.clone()).collect();
    let spec = Arc::new(openapi::document(&docs));
    let mut v1 = Router::new();
    for (doc, route) in table {
        v1 = v1.route(&doc.route_path(), route);
    }
    // The document itself needs no key.
    let v1 = v1.merge(farm_work::routes()).merge(billing::routes());
    let v1 = v1.route("/openapi.json", get(move || async move { Json(spec.as_ref().clone()) }));
    let routes = Router::new()
        .nest("/v1", v1)
        .merge(comfy::routes())
        .merge(dashboard::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready));
    // With ComfyUI's frontend, what no route takes is one of its files.
    let routes = match app.comfy_frontend.clone() {
        Some(dir) => routes.merge(comfy::frontend(dir)),
        None => routes.fallback(|| async { ApiError::not_found("no such route") }),
    };
    routes
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        // The method, path and status only: never a header or a query, so never a key.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(app)
}

/// The operator's `/metrics` listener.
pub(crate) fn metrics_router(app: Arc<App>) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(app)
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let depths = match app.store.depths().await {
        Ok(depths) => depths,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // No ledger yet (nothing granted) is no holds.
    let holds = match app.ledger().await {
        Ok(ledger) => ledger.hold_totals().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let read = crate::metrics::Scraped { depths, holds, provider_errors: app.provider_errors.counts() };
    let text = app.metrics.render(&read);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", e.to_string()).into_response(),
    }
}

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    help: Option<Box<str>>,
    details: Option<Box<serde_json::Value>>,
    pub(crate) retry_after_s: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), help: None, details: None, retry_after_s: None }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Also what another tenant's run gets: its id is not confirmed.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into().into_boxed_str());
        self
    }

    pub(crate) fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(help) = self.help {
            error["help"] = help.into_string().into();
        }
        if let Some(details) = self.details {
            error["details"] = *details;
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(s) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        response
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        tracing::error!(error = %e, "request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; try again")
    }
}

/// The caller, from the bearer key; 401 without a valid one.
impl<S> FromRequestParts<S> for Caller
where
    Arc<App>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = Arc::<App>::from_ref(state);
        let unauthorized = || {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid API key is needed")
                .help("send `Authorization: Bearer sy_…`; `switchyard serve --create-key TENANT` makes one")
        };
        let token = credential(parts).ok_or_else(unauthorized)?;
        let token = token.as_str();
        let caller = crate::keys::authenticate(&app.store, token).await?.ok_or_else(unauthorized)?;
        // A worker key speaks the worker protocol only; the operator's workers are not rate
        // limited as tenants are (a farm's claims and renewals come by the thousand).
        if caller.role == crate::keys::Role::Worker {
            return match farm_work::is_work_path(parts.uri.path()) {
                true => Ok(caller),
                false => {
                    Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "a worker key may only work farm tasks")
                        .help("use a tenant's key for the tenant API"))
                }
            };
        }
        // An operator key (every tenant's billing operations) calls the operator's paths only,
        // and only an operator key calls them.
        if (caller.role == crate::keys::Role::Operator) != billing::is_ops_path(parts.uri.path()) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "operator keys and /v1/ops go together")
                .help("an operator key calls /v1/ops/… only; tenants' keys call the rest"));
        }
        if let Err(wait) = app.limits.check(&caller.key_id, &caller.tenant) {
            app.metrics.rate_limited.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut limited = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "too many requests")
                .help(format!("retry after {seconds} s"));
            limited.retry_after_s = Some(seconds);
            return Err(limited);
        }
        tracing::debug!(key_id = %caller.key_id, tenant = %caller.tenant, "authenticated");
        Ok(caller)
    }
}

/// The key a request carries: its bearer token, or on ComfyUI's paths (for browsers and
/// clients that cannot send a header) the `token` query parameter or the `switchyard_key`
/// cookie. Never logged: the access log records paths without their query.
fn credential(parts: &Parts) -> Option<String> {
    if let Some(token) = bearer(&parts.headers) {
        return Some(token.to_string());
    }
    // Under a nested router the path is the rest after its prefix: read the original.
    let uri = parts.extensions.get::<axum::extract::OriginalUri>().map_or(&parts.uri, |o| &o.0);
    if !comfy::is_comfy_path(uri.path()) {
        return None;
    }
    let from_query = uri.query().and_then(|q| {
        q.split('&').find_map(|pair| pair.strip_prefix("token=")).filter(|t| !t.is_empty()).map(str::to_string)
    });
    from_query.or_else(|| cookie(&parts.headers, COOKIE).map(str::to_string))
}

/// The cookie that carries a browser's key.
pub(crate) const COOKIE: &str = "switchyard_key";

/// The value of cookie `name` in a request's `Cookie` headers. Public for the fuzz targets.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v.trim()))
        .filter(|v| !v.is_empty())
}

/// The bearer token of a request's `Authorization` header. Public for the fuzz targets.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A query string that does not parse (an unknown parameter, a number that is not one).
pub(crate) fn bad_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request("bad-query", e.body_text())
}

/// Refuses a caller whose role does not allow `needed`.
pub(crate) fn require(caller: &Caller, needed: Permission) -> Result<(), ApiError> {
    match caller.role.may(needed) {
        true => Ok(()),
        false => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this key's role is {}, which may not do this ({needed:?})", caller.role),
        )
        .help("ask the tenant's admin for a key with a role that may")),
    }
}
