//! `/v1/accounts`: the tenant's wallets, and their administration by a billing or admin key:
//! plan grants, pack top-ups and team members' caps. Every wallet is named `TENANT/ACCOUNT`
//! from the caller's tenant, so another tenant's cannot be named; an account comes into
//! being with its first grant or top-up.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use switchyard_session::credits::{Credits, GrantReceipt, Ledger, LedgerError, Plans};

use super::credits::{failed, view, wallet};
use super::runs::parse;
use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission, check_name};
use crate::protocol::{AccountList, GrantReply, GrantRequest, MemberList, MemberRequest, MemberView, TopupRequest};
use crate::queue::wallet_of;

/// A ledger refusal of what was asked (an amount, a replayed key with another request) as
/// the caller's error; anything else is the server's.
fn refused(e: LedgerError) -> ApiError {
    match e {
        LedgerError::InvalidAmount(m) => ApiError::bad_request("bad-field", m),
        LedgerError::KeyReused(m) => ApiError::new(StatusCode::CONFLICT, "payment-id-reused", m)
            .help("a payment id tops up once; a different pack or account needs its own payment"),
        other => failed(other),
    }
}

async fn ledger(app: &App) -> Result<&Ledger, ApiError> {
    app.ledger().await.map_err(|e| ApiError::from(crate::ServerError::Invalid(e.to_string())))
}

fn named(kind: &str, name: &str) -> Result<(), ApiError> {
    check_name(kind, name).map_err(|e| ApiError::bad_request("bad-field", e))
}

/// `GET /v1/accounts`: the tenant's wallets with their balances and plans.
pub(crate) async fn list(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<AccountList>, ApiError> {
    let ledger = ledger(&app).await?;
    let prefix = wallet_of(&caller.tenant, "");
    let mut accounts = Vec::new();
    for wallet in ledger.wallets(&prefix).await.map_err(failed)? {
        let account = wallet[prefix.len()..].to_string();
        accounts.push(view(ledger, &wallet, account).await?);
    }
    Ok(Json(AccountList { accounts }))
}

/// `POST /v1/accounts/{account}/grants`: the plan's grant for this month (a replay after
/// the first), and the plan's tier for the account's runs.
pub(crate) async fn grant(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<GrantReply>), ApiError> {
    require(&caller, Permission::Billing)?;
    named("account", &account)?;
    let req: GrantRequest = parse(&body)?;
    let plans = Plans::builtin();
    let plan = pick("plan", &plans.plans, &req.plan)?;
    let ledger = ledger(&app).await?;
    let wallet = wallet_of(&caller.tenant, &account);
    let receipt = ledger.grant_plan(&wallet, &req.plan, plan, req.seats, req.credits).await.map_err(refused)?;
    tracing::info!(tenant = %caller.tenant, account, plan = req.plan, key_id = %caller.key_id, "plan granted");
    granted(ledger, &wallet, account, receipt).await
}

/// The plan or pack `name` of `table`, or a 400 that lists them.
fn pick<'a, T>(what: &str, table: &'a BTreeMap<String, T>, name: &str) -> Result<&'a T, ApiError> {
    table.get(name).ok_or_else(|| {
        let known = table.keys().cloned().collect::<Vec<_>>().join(", ");
        ApiError::bad_request("bad-field", format!("no {what} {name:?}; {what}s: {known}"))
    })
}

/// The reply to a grant or top-up: the lot and the wallet after it.
async fn granted(
    ledger: &Ledger,
    wallet: &str,
    account: String,
    receipt: GrantReceipt,
) -> Result<(StatusCode, Json<GrantReply>), ApiError> {
    let view = view(ledger, wallet, account.clone()).await?;
    let reply = GrantReply { account, amount: receipt.amount.0, lot: receipt.lot, wallet: view };
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `POST /v1/accounts/{account}/topups`: a bought pack, once per payment id (the tenant's
/// payment ids are its own: the ledger key names the tenant).
pub(crate) async fn topup(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<GrantReply>), ApiError> {
    require(&caller, Permission::Billing)?;
    named("account", &account)?;
    let req: TopupRequest = parse(&body)?;
    let plans = Plans::builtin();
    let pack = pick("pack", &plans.packs, &req.pack)?;
    if req.payment_id.trim().is_empty() || req.payment_id.len() > 200 {
        return Err(ApiError::bad_request("bad-field", "payment_id must be 1 to 200 bytes"));
    }
    let ledger = ledger(&app).await?;
    let wallet = wallet_of(&caller.tenant, &account);
    let payment = format!("{}/{}", caller.tenant, req.payment_id);
    let receipt = ledger.topup(&wallet, &req.pack, pack, &payment).await.map_err(refused)?;
    tracing::info!(tenant = %caller.tenant, account, pack = req.pack, key_id = %caller.key_id, "topped up");
    granted(ledger, &wallet, account, receipt).await
}

fn member_view(m: switchyard_session::credits::MemberUse) -> MemberView {
    MemberView { member: m.member, cap: m.cap, period: m.period, spent: m.spent, held: m.held }
}

/// `GET /v1/accounts/{account}/members`: a team account's members, caps and use.
pub(crate) async fn members(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let (ledger, wallet) = wallet(&app, &caller, &account).await?;
    let members = ledger.members(&wallet).await.map_err(failed)?;
    Ok(Json(MemberList { members: members.into_iter().map(member_view).collect() }))
}

/// `PUT /v1/accounts/{account}/members/{member}` `{cap}`: adds a member to a team account,
/// or changes their monthly cap. Once an account has members, only a named member spends it.
pub(crate) async fn set_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((account, member)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<MemberView>, ApiError> {
    require(&caller, Permission::Billing)?;
    named("member", &member)?;
    let req: MemberRequest = parse(&body)?;
    let (ledger, wallet) = wallet(&app, &caller, &account).await?;
    let used = ledger.set_member_cap(&wallet, &member, Credits(req.cap)).await.map_err(refused)?;
    tracing::info!(tenant = %caller.tenant, account, member, cap = req.cap, key_id = %caller.key_id, "member cap set");
    Ok(Json(member_view(used)))
}
