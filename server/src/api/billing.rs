//! Billing operations over HTTP.
//!
//! - `POST /v1/billing/stripe/webhook`: Stripe-format events, signed (no API key): the
//!   signature is checked in constant time within the tolerance, the event is read and
//!   applied once by its id, in the ledger's transaction. An event naming a customer or
//!   payment the ledger does not know yet answers 409, so Stripe's retry applies it later.
//! - `GET /v1/billing/reviews` and `GET /v1/billing/audit`: the tenant's review queue and
//!   billing audit trail (a billing or admin key).
//! - `/v1/ops/…`: the platform operator's side (an `operator` key, made only with
//!   `serve --create-key`): every tenant's review queue, and deciding a review. A tenant
//!   never clears its own fraud review.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use switchyard_session::credits::ops::{alerts, fraud, stripe};
use switchyard_session::credits::{AlertEndpoint, Decision, LedgerError, PaymentAction, PaymentOutcome, Plans};

use super::credits::failed;
use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission, check_name};

/// The largest webhook body taken.
pub const WEBHOOK_BODY_MAX: usize = 512 * 1024;

/// The webhook and the operator's routes (the tenant's are in the documented table).
pub(crate) fn routes() -> axum::Router<Arc<App>> {
    let limit = tower_http::limit::RequestBodyLimitLayer::new(WEBHOOK_BODY_MAX);
    axum::Router::new()
        .route("/billing/stripe/webhook", post(webhook).layer(limit))
        .route("/ops/reviews", get(all_reviews))
        .route("/ops/reviews/{id}/decide", post(decide))
        .route(
            "/ops/reconciliations",
            get(reports)
                .post(reconcile)
                .layer(tower_http::limit::RequestBodyLimitLayer::new(crate::reconcile::EXPORT_MAX_BYTES)),
        )
        .route("/ops/reconciliations/{id}", get(report))
}

/// Whether `path` is one of the operator's (the only paths an operator key may call);
/// inside `/v1` the prefix is already taken off.
pub(crate) fn is_ops_path(path: &str) -> bool {
    path.strip_prefix("/v1").unwrap_or(path).starts_with("/ops/")
}

/// `POST /v1/billing/stripe/webhook`.
async fn webhook(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PaymentOutcome>, ApiError> {
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let now_s = crate::store::now_ms() / 1000;
    let billing = &app.billing;
    stripe::verify(header, &body, &billing.stripe_secrets.0, now_s, billing.tolerance_s).map_err(|e| {
        app.metrics.webhooks_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::bad_request("bad-signature", e.to_string())
            .help("Stripe signs each delivery with the endpoint's secret; a replayed or altered body is refused")
    })?;
    let event = stripe::read_event(&body).map_err(|e| ApiError::bad_request("unreadable-event", e.to_string()))?;
    if let Some(wallet) = event.action.wallet() {
        check_wallet(&app, wallet).await?;
    }
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let outcome = ledger.apply_payment(&event, &Plans::builtin(), billing.dunning).await.map_err(|e| match e {
        LedgerError::UnknownCustomer(_) | LedgerError::UnknownPayment(_) => {
            ApiError::new(StatusCode::CONFLICT, "not-yet-known", e.to_string())
                .help("Stripe retries the delivery; it applies once the checkout that binds the customer has come")
        }
        other => failed(other),
    })?;
    tracing::info!(event = %event.id, kind = %event.kind, replayed = outcome.replayed, "payment event");
    // The credit stays granted; new spending waits for a person when top-ups come too fast.
    let topup = match (&event.action, outcome.replayed) {
        (_, true) => None,
        (PaymentAction::TopUp { wallet, customer, payment, .. }, _) => {
            Some((wallet.clone(), customer.clone(), ledger.method_of(payment).await.map_err(failed)?))
        }
        (PaymentAction::Charged { method, .. }, _) => outcome.wallet.clone().map(|w| (w, None, Some(method.clone()))),
        _ => None,
    };
    if let Some((wallet, customer, method)) = topup {
        let (rules, customer, method) = (&billing.fraud, customer.as_deref(), method.as_deref());
        if let Some(review) = fraud::check_topup(ledger, rules, &wallet, customer, method).await.map_err(failed)? {
            tracing::warn!(wallet, review = %review.id, "top-up velocity: new spending paused for review");
        }
    }
    Ok(Json(outcome))
}

/// A wallet an event names must be `TENANT/ACCOUNT` of a tenant this server has.
async fn check_wallet(app: &App, wallet: &str) -> Result<(), ApiError> {
    let bad = |why: String| {
        ApiError::bad_request("bad-wallet", format!("the event's wallet {wallet:?} {why}"))
            .help("set the checkout's client_reference_id (or metadata.switchyard_wallet) to TENANT/ACCOUNT")
    };
    let (tenant, account) = wallet.split_once('/').ok_or_else(|| bad("is not TENANT/ACCOUNT".into()))?;
    check_name("tenant", tenant).and_then(|_| check_name("account", account)).map_err(bad)?;
    if !app.store.tenant_exists(tenant).await? {
        return Err(bad(format!("names tenant {tenant:?}, which this server does not have")));
    }
    Ok(())
}

#[derive(Deserialize)]
pub(crate) struct ReviewQuery {
    #[serde(default)]
    open: Option<bool>,
    #[serde(default)]
    tenant: Option<String>,
}

/// `GET /v1/billing/reviews`: the caller's tenant's reviews (`open=true` for open ones).
pub(crate) async fn tenant_reviews(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Billing)?;
    reviews(&app, &format!("{}/", caller.tenant), q.open.unwrap_or(false)).await
}

/// `GET /v1/ops/reviews`: every tenant's reviews, or one tenant's (`tenant=`).
async fn all_reviews(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Operate)?;
    let prefix = match &q.tenant {
        Some(t) => {
            check_name("tenant", t).map_err(|e| ApiError::bad_request("bad-field", e))?;
            format!("{t}/")
        }
        None => String::new(),
    };
    reviews(&app, &prefix, q.open.unwrap_or(true)).await
}

async fn reviews(app: &App, prefix: &str, open: bool) -> Result<Json<serde_json::Value>, ApiError> {
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let reviews = ledger.reviews(prefix, open).await.map_err(failed)?;
    Ok(Json(serde_json::json!({ "reviews": reviews })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideRequest {
    decision: Decision,
    note: String,
}

/// `POST /v1/ops/reviews/{id}/decide` `{decision: clear|uphold, note}`.
async fn decide(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Operate)?;
    let req: DecideRequest = super::runs::parse(&body)?;
    if req.note.trim().is_empty() {
        return Err(ApiError::bad_request("bad-field", "a decision needs a note saying why"));
    }
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let by = format!("{}:{}", caller.tenant, caller.key_id);
    match ledger.decide_review(&id, req.decision, &by, &req.note).await {
        Ok(review) => Ok(Json(serde_json::json!({ "review": review }))),
        Err(LedgerError::UnknownReview(_)) => Err(ApiError::not_found(format!("no review {id}"))),
        Err(e @ LedgerError::Settled { .. }) => Err(ApiError::new(StatusCode::CONFLICT, "decided", e.to_string())),
        Err(e) => Err(failed(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsRequest {
    url: String,
    #[serde(default)]
    thresholds: Option<Vec<i64>>,
    /// Monthly budgets by account (credits; null removes one).
    #[serde(default)]
    budgets: std::collections::BTreeMap<String, Option<i64>>,
}

/// `PUT /v1/billing/alerts` `{url, thresholds?}`: where the tenant's usage alerts go. The
/// signing secret is made anew and shown in this reply only.
pub(crate) async fn set_alerts(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Billing)?;
    let req: AlertsRequest = super::runs::parse(&body)?;
    if req.url.len() > 2048 {
        return Err(ApiError::bad_request("bad-field", "the url is over 2048 bytes"));
    }
    crate::alerts::check_url(&req.url, app.billing.alert_private_urls)
        .await
        .map_err(|e| ApiError::bad_request("bad-field", e))?;
    let list = req.thresholds.unwrap_or_else(|| alerts::THRESHOLDS.to_vec());
    let text = list.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let thresholds = alerts::parse_thresholds(&text).map_err(|e| ApiError::bad_request("bad-field", e))?;
    let secret = format!("whsec_{}", crate::keys::random_hex(24));
    let thresholds = thresholds.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let endpoint = AlertEndpoint {
        prefix: format!("{}/", caller.tenant),
        url: req.url.clone(),
        secret: secret.clone(),
        thresholds: thresholds.clone(),
    };
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    for (account, budget) in &req.budgets {
        check_name("account", account).map_err(|e| ApiError::bad_request("bad-field", e))?;
        if budget.is_some_and(|b| b <= 0) {
            return Err(ApiError::bad_request("bad-field", format!("the budget of {account} must be above 0 credits")));
        }
    }
    for (account, budget) in &req.budgets {
        let wallet = crate::queue::wallet_of(&caller.tenant, account);
        ledger.set_alert_budget(&wallet, *budget).await.map_err(failed)?;
    }
    ledger.set_alert_endpoint(&endpoint).await.map_err(failed)?;
    Ok(Json(serde_json::json!({ "url": req.url, "thresholds": thresholds, "secret": secret })))
}

/// `GET /v1/billing/alerts`: the tenant's endpoint (without its secret) and its latest
/// deliveries.
pub(crate) async fn alert_deliveries(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Billing)?;
    let prefix = format!("{}/", caller.tenant);
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let endpoint = ledger.alert_endpoints(Some(&prefix)).await.map_err(failed)?.into_iter().next();
    let deliveries = ledger.deliveries(&prefix, 100).await.map_err(failed)?;
    Ok(Json(serde_json::json!({ "endpoint": endpoint, "deliveries": deliveries })))
}

/// `GET /v1/billing/audit`: the tenant's billing audit trail (payments, dunning, reviews).
pub(crate) async fn audit(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Billing)?;
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let trail = ledger.billing_audit(&format!("{}/", caller.tenant)).await.map_err(failed)?;
    Ok(Json(serde_json::json!({ "audit": trail })))
}

#[derive(Deserialize)]
struct ReconcileQuery {
    provider: String,
    from: String,
    to: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    threshold: Option<f64>,
}

/// `POST /v1/ops/reconciliations?provider=&from=&to=[&format=&threshold=]` with a usage
/// export as the body: reconciled, unknown holds settled, the report stored and returned.
async fn reconcile(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ReconcileQuery>,
    body: axum::body::Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Operate)?;
    let bad = |m: String| ApiError::bad_request("bad-field", m);
    let day = |d: &str| crate::reconcile::day_ms(d).ok_or_else(|| bad(format!("{d:?} is not a day (YYYY-MM-DD)")));
    let (from_ms, to_ms) = (day(&q.from)?, day(&q.to)?);
    if from_ms >= to_ms {
        return Err(bad("from must be before to".into()));
    }
    crate::keys::check_name("provider", &q.provider).map_err(bad)?;
    let format = q.format.as_deref().map(str::parse).transpose().map_err(bad)?;
    if q.threshold.is_some_and(|t| !(0.0..=100.0).contains(&t)) {
        return Err(bad("threshold is a percent from 0 to 100".into()));
    }
    let file = spool(body).await?;
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let job = crate::reconcile::Job { provider: q.provider, format, from_ms, to_ms, threshold_pct: q.threshold };
    let (id, report) = crate::reconcile::run_file(&app, ledger, &job, file.path())
        .await
        .map_err(|e| ApiError::bad_request("unreadable-export", e))?;
    Ok(Json(serde_json::json!({ "id": id, "report": report })))
}

/// The request body in a temporary file, streamed (an export may be large).
async fn spool(body: axum::body::Body) -> Result<tempfile::NamedTempFile, ApiError> {
    use futures::StreamExt;
    use std::io::Write;
    let failed = |e: String| ApiError::from(crate::ServerError::Invalid(e));
    let mut file = tempfile::NamedTempFile::new().map_err(|e| failed(e.to_string()))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("bad-body", e.to_string()))?;
        file.write_all(&chunk).map_err(|e| failed(e.to_string()))?;
    }
    file.flush().map_err(|e| failed(e.to_string()))?;
    Ok(file)
}

/// `GET /v1/ops/reconciliations`: the stored reports, newest first.
async fn reports(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Operate)?;
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let list = ledger.reports(None, 200).await.map_err(failed)?;
    Ok(Json(serde_json::json!({ "reconciliations": list })))
}

/// `GET /v1/ops/reconciliations/{id}`: one stored report.
async fn report(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Permission::Operate)?;
    let ledger = app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    let json = ledger
        .report(&id)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::not_found(format!("no reconciliation {id}")))?;
    let report: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))?;
    Ok(Json(report))
}
