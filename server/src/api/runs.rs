//! `/v1/runs` and `/v1/queue`: submit, read, list, cancel and re-prioritise runs; pause and
//! resume the queue. Every query names the caller's tenant.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, require};
use crate::keys::{Caller, Permission, check_name};
use crate::lanes::{OffPeak, OnWait, Placing, next_off_peak, surge, uses_economy};
use crate::protocol::{
    CancelReply, MoveReply, MoveRequest, PriorityReply, PriorityRequest, QueueReply, Quote, RunPage, RunView,
    SubmitRequest, Surge,
};
use crate::queue::{Refusal, prepare, wallet_of};
use crate::store::{Cancelled, RunRow, now_ms};
use crate::{App, queue};
use switchyard_session::catalog::Totals;
use switchyard_session::wallet::WalletOptions;

/// The most runs one page of a listing holds.
const PAGE_MAX: i64 = 200;
/// The longest idempotency key.
const KEY_MAX_BYTES: usize = 255;
/// The longest wait a submission may accept: a week.
const MAX_WAIT_MAX_S: i64 = 7 * 86_400;
/// Run priorities range over ±this.
const PRIORITY_MAX: i64 = 100;

impl From<RunRow> for RunView {
    fn from(r: RunRow) -> Self {
        RunView {
            id: r.id,
            state: r.state,
            tier: r.tier,
            priority: r.priority,
            account: r.account,
            policy: r.policy,
            quote: Quote { min: r.quote_min, max: r.quote_max },
            submitted_at_ms: r.submitted_at_ms,
            started_at_ms: r.started_at_ms,
            finished_at_ms: r.finished_at_ms,
            attempts: r.attempts,
            summary: r.summary.and_then(|s| serde_json::from_str(&s).ok()),
            error: r.error,
            expected_start_ms: None,
            lane: r.lane,
            not_before_ms: r.not_before_ms,
            surge: None,
            on_wait: None,
            template: r.template,
            revision: r.revision,
            warnings: Vec::new(),
        }
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("bad-body", format!("the request body is not valid: {e}"))
            .help("send a JSON object; see the README's server section for the fields")
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map_err(|_| ApiError::bad_request("bad-idempotency-key", "not visible ASCII"))?;
    if key.trim().is_empty() || key.len() > KEY_MAX_BYTES {
        return Err(ApiError::bad_request(
            "bad-idempotency-key",
            format!("an Idempotency-Key must be 1 to {KEY_MAX_BYTES} bytes"),
        ));
    }
    Ok(Some(key.to_string()))
}

fn check(req: &SubmitRequest) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError::bad_request("bad-field", m);
    if !(-PRIORITY_MAX..=PRIORITY_MAX).contains(&req.priority) {
        return Err(invalid(format!("priority must be from -{PRIORITY_MAX} to {PRIORITY_MAX}, not {}", req.priority)));
    }
    if req.max_wait_s.is_some_and(|s| !(0..=MAX_WAIT_MAX_S).contains(&s)) {
        return Err(invalid(format!("max_wait_s must be from 0 to {MAX_WAIT_MAX_S}")));
    }
    if req.budget.is_some_and(|b| b < 0) {
        return Err(invalid("budget must not be negative".into()));
    }
    if let Some(a) = &req.account {
        check_name("account", a).map_err(invalid)?;
    }
    if let Some(m) = &req.member {
        check_name("member", m).map_err(invalid)?;
    }
    if let Some(w) = &req.when
        && !["now", "off-peak"].contains(&w.as_str())
    {
        return Err(invalid(format!("when {w:?}: now or off-peak")));
    }
    if let Some(o) = &req.on_wait {
        o.parse::<OnWait>().map_err(invalid)?;
    }
    if let Some(r) = req.routes.iter().find(|r| !["economy", "green"].contains(&r.as_str())) {
        return Err(invalid(format!("route {r:?}: the routes are economy and green")));
    }
    match (&req.template, req.workflow.is_object()) {
        (None, false) if req.workflow.is_null() => {
            return Err(invalid(
                "send a workflow (a workflow file's JSON object) or a template (team/name@version)".into(),
            ));
        }
        (None, false) => return Err(invalid("workflow must be a workflow file's JSON object".into())),
        (Some(_), _) if !req.workflow.is_null() => {
            return Err(invalid("send a workflow or a template, not both".into()));
        }
        (Some(t), _) if t.len() > 300 => return Err(invalid("a template reference is at most 300 bytes".into())),
        _ => {}
    }
    Ok(())
}

/// Parses and checks a submission's body: everything that can be said of it before the
/// workflow is validated. Public for the fuzz targets.
pub fn check_submit(body: &[u8]) -> Result<SubmitRequest, ApiError> {
    let req: SubmitRequest = parse(body)?;
    check(&req)?;
    Ok(req)
}

pub(crate) fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Invalid(diags) => ApiError::bad_request("invalid-workflow", "the workflow does not validate")
            .details(serde_json::to_value(&diags).unwrap_or_default()),
        Refusal::Session(e) => {
            let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            ApiError::new(status, "refused", e.message)
        }
    }
}

/// `POST /v1/runs`: validates, places and quotes the workflow, then queues it. With an
/// `Idempotency-Key`, a repeat returns the first run (200) before any other check; the key
/// with another body is refused (422).
pub(crate) async fn submit(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, Permission::Run)?;
    let key = idempotency_key(&headers)?;
    let request_hash = blake3::hash(&body).to_hex().to_string();
    if let Some(key) = &key
        && let Some(first) = app.store.run_by_key(&caller.tenant, key).await?
    {
        return replay(first, &request_hash).map(|view| Json(view).into_response());
    }
    let req = check_submit(&body)?;
    let id = uuid::Uuid::now_v7().to_string();
    let (status, view) = enqueue(&app, &caller, req, id, key, request_hash).await?;
    Ok((status, Json(view)).into_response())
}

/// Places, quotes and queues a checked submission as run `id` (201), or replays the run its
/// idempotency key made (200). Every front door that makes a run goes through this.
pub(crate) async fn enqueue(
    app: &App,
    caller: &Caller,
    mut req: SubmitRequest,
    id: String,
    key: Option<String>,
    request_hash: String,
) -> Result<(StatusCode, RunView), ApiError> {
    req.member = member_of(caller, &req)?;
    let from_template = super::library::resolve_for_run(app, caller, &mut req).await?;
    let on_wait: OnWait = req.on_wait.as_deref().map_or(Ok(OnWait::Cancel), str::parse).map_err(bad_field)?;
    let off_peak = off_peak(app, &req)?;
    let mut placing = Placing {
        policy: req.policy.clone().unwrap_or_else(|| "cheapest".into()),
        routes: req.routes.clone(),
        price_at_s: off_peak.as_ref().map(|o| o.start_s),
    };
    let workflow = req.workflow.to_string();
    let mut admitted = admit(app, caller, &req, &workflow, &placing, &id).await?;
    let not_before_ms = off_peak.map(|o| o.start_s * 1000).filter(|t| *t > now_ms());
    let mut wait_ms = expected_wait_ms(app, &admitted, req.priority, not_before_ms).await?;
    let mut switched = None;
    if let Some(max) = req.max_wait_s
        && wait_ms > max * 1000
    {
        if on_wait == OnWait::Cancel {
            return Err(too_long(wait_ms, max));
        }
        if let Some(other) = on_wait.replace(&placing) {
            placing = other;
            admitted = admit(app, caller, &req, &workflow, &placing, &id).await?;
            wait_ms = expected_wait_ms(app, &admitted, req.priority, not_before_ms).await?;
        }
        switched = Some(on_wait.name().to_string());
    }
    let row = RunRow {
        id,
        tenant: caller.tenant.clone(),
        state: if not_before_ms.is_some() { "scheduled" } else { "queued" }.into(),
        tier: admitted.tier,
        priority: req.priority,
        account: req.account,
        member: req.member,
        budget: req.budget,
        policy: placing.policy.clone(),
        workflow,
        overrides: serde_json::to_string(&req.set).unwrap_or_else(|_| "[]".into()),
        request_hash,
        quote_min: admitted.totals.credits.0,
        quote_max: admitted.totals.credits.1,
        submitted_at_ms: now_ms(),
        started_at_ms: None,
        finished_at_ms: None,
        attempts: 0,
        summary: None,
        error: None,
        lane: admitted.lane.into(),
        not_before_ms,
        price_at_s: placing.price_at_s,
        routes: placing.routes_text(),
        template: from_template.as_ref().map(|t| t.reference.clone()),
        revision: from_template.as_ref().map(|t| t.revision.clone()),
    };
    // A concurrent first use of the same key is settled by the writer: one run is made.
    if let Some(first) = app.submitter.submit(row.clone(), key).await? {
        return replay(first, &row.request_hash).map(|view| (StatusCode::OK, view));
    }
    app.wake.notify_one();
    app.metrics.submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(run = %row.id, tenant = %row.tenant, key_id = %caller.key_id, lane = %row.lane, "run queued");
    if not_before_ms.is_none() {
        app.estimator.queued(row.tier, row.priority).await;
    }
    let view = RunView {
        expected_start_ms: Some(now_ms() + wait_ms),
        surge: admitted.surge,
        on_wait: switched,
        warnings: from_template.map(|t| t.warnings).unwrap_or_default(),
        ..RunView::from(row)
    };
    Ok((StatusCode::CREATED, view))
}

fn bad_field(message: String) -> ApiError {
    ApiError::bad_request("bad-field", message)
}

/// The member a submission spends as: a member's key always spends as its member.
pub(crate) fn member_of(caller: &Caller, req: &SubmitRequest) -> Result<Option<String>, ApiError> {
    member_of_farm(caller, req.member.as_ref())
}

/// The member a request spends as: a member key's own, whatever the request asks.
pub(crate) fn member_of_farm(caller: &Caller, asked: Option<&String>) -> Result<Option<String>, ApiError> {
    match (&caller.member, asked) {
        (Some(own), Some(asked)) if own != asked => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this key spends as member {own}, not {asked}"),
        )
        .help("drop `member`, or use that member's own key")),
        (Some(own), _) => Ok(Some(own.clone())),
        (None, asked) => Ok(asked.cloned()),
    }
}

/// The off-peak window an off-peak submission waits for.
pub(crate) fn off_peak(app: &App, req: &SubmitRequest) -> Result<Option<OffPeak>, ApiError> {
    match req.when.as_deref() {
        None | Some("now") => Ok(None),
        _ => next_off_peak(&app.catalog, now_ms() / 1000).map(Some).ok_or_else(|| {
            bad_field("the catalog has no off-peak window in the coming week".into())
                .help("submit without `when`, or add a discounted [[schedule]] window to the catalog")
        }),
    }
}

/// A submission placed, quoted and fitted to its wallet.
struct Admitted {
    totals: Totals,
    tier: i64,
    lane: &'static str,
    surge: Option<Surge>,
}

async fn admit(
    app: &App,
    caller: &Caller,
    req: &SubmitRequest,
    workflow: &str,
    placing: &Placing,
    id: &str,
) -> Result<Admitted, ApiError> {
    let out = app.data.join("runs").join(id);
    let billed = req.account.is_some();
    let (_, plans) = prepare(app, &caller.tenant, workflow, &req.set, placing, billed, out).map_err(refused)?;
    let totals = switchyard_session::plan::totals(&plans);
    let tier = match &req.account {
        Some(account) => fits(app, caller, account, req, &totals).await?,
        None => 0,
    };
    let lane = if uses_economy(&plans) { "economy" } else { "standard" };
    let surge = surge(&app.catalog, &plans, placing.price_at_s.unwrap_or(now_ms() / 1000));
    Ok(Admitted { totals, tier, lane, surge })
}

/// How long a run would wait to start: until its window opens, then behind the runs ahead.
async fn expected_wait_ms(
    app: &App,
    admitted: &Admitted,
    priority: i64,
    not_before_ms: Option<i64>,
) -> Result<i64, ApiError> {
    let queue = app.estimator.wait_ms(&app.store, admitted.tier, priority, app.workers).await?;
    Ok(not_before_ms.map_or(0, |t| (t - now_ms()).max(0)) + queue)
}

/// The run an Idempotency-Key already made, for the same request; a refusal for another.
fn replay(first: RunRow, request_hash: &str) -> Result<RunView, ApiError> {
    if first.request_hash != request_hash {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "this Idempotency-Key was used for a different request",
        )
        .help("use a new key for a new run"));
    }
    Ok(RunView::from(first))
}

/// Whether the quote fits the caller's wallet for `account` (its balance, the budget and the
/// member's cap): the wallet's plan tier when it does, 402 when it does not.
async fn fits(
    app: &App,
    caller: &Caller,
    account: &str,
    req: &SubmitRequest,
    totals: &Totals,
) -> Result<i64, ApiError> {
    let wallet = wallet_options(app, &wallet_of(&caller.tenant, account), req);
    let ledger = app.ledger().await.map_err(session_refusal)?;
    let room = switchyard_session::wallet::room(ledger, &wallet).await.map_err(session_refusal)?;
    if let Some(why) = room.paused.clone().filter(|_| totals.credits.1 > 0) {
        return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "spending-paused", why)
            .help("free local work still runs; paid work waits until the account is in good standing"));
    }
    let verdict = switchyard_session::wallet::verdict(totals, &room, req.budget);
    if !verdict.fits() {
        let [quote, why] = verdict.lines(totals);
        return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "does-not-fit", why)
            .details(json!({ "quote": quote }))
            .help("top up the wallet, raise the budget, or choose a cheaper policy"));
    }
    Ok(tier_of(ledger, &wallet.account).await)
}

/// 503 for a run expected to wait `wait_ms`, over its `max_wait_s`.
fn too_long(wait_ms: i64, max_wait_s: i64) -> ApiError {
    let seconds = (wait_ms + 999) / 1000;
    let mut busy = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue-too-long",
        format!("the run is expected to wait about {seconds} s to start, over its max_wait_s of {max_wait_s}"),
    )
    .help("submit later, raise max_wait_s, or raise the run's priority");
    busy.retry_after_s = Some(seconds as u64);
    busy
}

/// The wallet options of a submission (its member already settled by [`member_of`]).
pub(crate) fn wallet_options(app: &App, wallet: &str, req: &SubmitRequest) -> WalletOptions {
    WalletOptions {
        account: wallet.to_string(),
        ledger: Some(app.ledger.clone()),
        budget: req.budget,
        member: req.member.clone(),
        rules: Some(app.billing.fraud.clone()),
    }
}

pub(crate) fn session_refusal(e: switchyard_session::SessionError) -> ApiError {
    refused(Refusal::Session(e))
}

/// The plan tier of a wallet (0 without a plan, or when the ledger cannot say).
async fn tier_of(ledger: &switchyard_session::credits::Ledger, wallet: &str) -> i64 {
    ledger.plan_of(wallet).await.ok().flatten().map_or(0, |(_, tier)| tier)
}

/// `GET /v1/runs/{id}`.
pub(crate) async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = app.store.run(&caller.tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no run {id}")))?;
    Ok(Json(run.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/runs?state=&limit=&cursor=`: newest first; `next_cursor` fetches the next page.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RunPage>, ApiError> {
    let Query(q) = query.map_err(super::bad_query)?;
    if let Some(state) = &q.state
        && !["queued", "paused", "scheduled", "running", "succeeded", "failed", "cancelled"].contains(&state.as_str())
    {
        return Err(ApiError::bad_request("bad-query", format!("no state {state:?}"))
            .help("the states are queued, paused, scheduled, running, succeeded, failed and cancelled"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, PAGE_MAX);
    let runs = app.store.list(&caller.tenant, q.state.as_deref(), q.cursor.as_deref(), limit).await?;
    let next_cursor = (runs.len() as i64 == limit).then(|| runs.last().map(|r| r.id.clone())).flatten();
    Ok(Json(RunPage { runs: runs.into_iter().map(RunView::from).collect(), next_cursor }))
}

/// `POST /v1/runs/{id}/cancel`: a queued run ends now; a running one is stopped (paid calls
/// in flight settle by the money rules).
pub(crate) async fn cancel(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CancelReply>, ApiError> {
    require(&caller, Permission::Run)?;
    let outcome = app.store.cancel(&caller.tenant, &id).await?;
    let state = match outcome {
        None => return Err(ApiError::not_found(format!("no run {id}"))),
        Some(Cancelled::Dequeued) => "cancelled".to_string(),
        Some(Cancelled::Requested) => {
            queue::stop(&app, &id);
            "cancelling".to_string()
        }
        Some(Cancelled::Ended(state)) => state,
    };
    Ok(Json(CancelReply { id, state }))
}

/// `POST /v1/runs/{id}/priority` `{"priority": N}`: for a queued run.
pub(crate) async fn priority(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<PriorityReply>, ApiError> {
    require(&caller, Permission::Run)?;
    let req: PriorityRequest = parse(&body)?;
    if !(-PRIORITY_MAX..=PRIORITY_MAX).contains(&req.priority) {
        return Err(ApiError::bad_request(
            "bad-field",
            format!("priority must be from -{PRIORITY_MAX} to {PRIORITY_MAX}"),
        ));
    }
    if app.store.set_priority(&caller.tenant, &id, req.priority).await? {
        return Ok(Json(PriorityReply { id, priority: req.priority }));
    }
    Err(not_waiting(&app, &caller, &id, "only a waiting run's priority changes").await)
}

/// Why a change to a waiting run was not made: no such run of the tenant's (404), or the
/// run is no longer waiting (409, with its state).
async fn not_waiting(app: &App, caller: &Caller, id: &str, rule: &str) -> ApiError {
    match app.store.run(&caller.tenant, id).await {
        Ok(None) => ApiError::not_found(format!("no run {id}")),
        Ok(Some(run)) => {
            ApiError::new(StatusCode::CONFLICT, "not-queued", format!("run {id} is {}; {rule}", run.state))
        }
        Err(e) => ApiError::from(e),
    }
}

/// `POST /v1/runs/{id}/move` `{"to": "front" | "back"}`: within the run's account's own line.
pub(crate) async fn move_run(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<MoveReply>, ApiError> {
    require(&caller, Permission::Run)?;
    let req: MoveRequest = parse(&body)?;
    let front = match req.to.as_str() {
        "front" => true,
        "back" => false,
        other => return Err(bad_field(format!("to {other:?}: front or back"))),
    };
    if let Some(swapped_with) = app.store.move_run(&caller.tenant, &id, front).await? {
        return Ok(Json(MoveReply { id, swapped_with }));
    }
    Err(not_waiting(&app, &caller, &id, "only a waiting run moves").await)
}

/// `POST /v1/queue/pause`: none of the tenant's runs starts until resumed (running ones go
/// on); other tenants' runs are not affected.
pub(crate) async fn pause(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<QueueReply>, ApiError> {
    require(&caller, Permission::Queue)?;
    app.store.set_paused(&caller.tenant, true).await?;
    Ok(Json(QueueReply { paused: true }))
}

/// `POST /v1/queue/resume`.
pub(crate) async fn resume(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<QueueReply>, ApiError> {
    require(&caller, Permission::Queue)?;
    app.store.set_paused(&caller.tenant, false).await?;
    app.wake.notify_one();
    Ok(Json(QueueReply { paused: false }))
}
