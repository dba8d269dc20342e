//! `/v1/credits/{account}`: the balance, audit trail (JSON or CSV) and holds of one of the
//! caller's wallets. An account names the wallet `TENANT/ACCOUNT`, so another tenant's
//! wallets cannot be named at all; a wallet that does not exist is 404.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchyard_session::credits::{Ledger, LedgerError};

use super::ApiError;
use crate::App;
use crate::keys::{Caller, check_name};
use crate::protocol::{HoldList, HoldView, TransferList, TransferView, WalletView};
use crate::queue::wallet_of;

/// The caller's wallet for `account`, and the ledger it is in.
pub(super) async fn wallet<'a>(app: &'a App, caller: &Caller, account: &str) -> Result<(&'a Ledger, String), ApiError> {
    check_name("account", account).map_err(|e| ApiError::bad_request("bad-field", e))?;
    let wallet = wallet_of(&caller.tenant, account);
    let missing = || ApiError::not_found(format!("no account {account}"));
    let ledger = app.ledger().await.map_err(|_| missing())?;
    match ledger.balance(&wallet).await {
        Ok(_) => Ok((ledger, wallet)),
        Err(LedgerError::UnknownWallet(_)) => Err(missing()),
        Err(e) => Err(failed(e)),
    }
}

pub(super) fn failed(e: LedgerError) -> ApiError {
    ApiError::from(crate::ServerError::Invalid(e.to_string()))
}

/// `GET /v1/credits/{account}`.
pub(crate) async fn balance(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<WalletView>, ApiError> {
    let (ledger, wallet) = wallet(&app, &caller, &account).await?;
    Ok(Json(view(ledger, &wallet, account).await?))
}

/// The balance and plan of `wallet`, shown as `account`.
pub(super) async fn view(ledger: &Ledger, wallet: &str, account: String) -> Result<WalletView, ApiError> {
    let b = ledger.balance(wallet).await.map_err(failed)?;
    let plan = ledger.plan_of(wallet).await.map_err(failed)?;
    Ok(WalletView {
        account,
        posted: b.posted.0,
        held: b.held.0,
        available: b.available.0,
        tier: plan.as_ref().map_or(0, |(_, t)| *t),
        plan: plan.map(|(p, _)| p),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    format: Option<String>,
}

/// `GET /v1/credits/{account}/history[?format=csv]`.
pub(crate) async fn history(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(super::bad_query)?;
    let (ledger, wallet) = wallet(&app, &caller, &account).await?;
    let records = ledger.history(Some(&wallet)).await.map_err(failed)?;
    match q.format.as_deref() {
        Some("csv") => {
            let csv = switchyard_session::credits::to_csv(&records);
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
        None | Some("json") => {
            let transfers = records
                .into_iter()
                .map(|t| TransferView {
                    id: t.id,
                    debit: t.debit,
                    credit: t.credit,
                    amount: t.amount.0,
                    reason: t.reason,
                    hold_id: t.hold_id,
                    run_id: t.audit.run_id,
                    node_id: t.audit.node_id,
                    provider: t.audit.provider,
                    vendor_id: t.audit.vendor_id,
                    created_at_ms: t.created_at_ms,
                })
                .collect();
            Ok(Json(TransferList { transfers }).into_response())
        }
        Some(other) => Err(ApiError::bad_request("bad-query", format!("no format {other:?}; json or csv"))),
    }
}

/// `GET /v1/credits/{account}/holds`.
pub(crate) async fn holds(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<HoldList>, ApiError> {
    let (ledger, wallet) = wallet(&app, &caller, &account).await?;
    let holds = ledger.holds(Some(&wallet), false).await.map_err(failed)?;
    let holds = holds
        .into_iter()
        .map(|h| HoldView {
            id: h.id,
            amount: h.amount,
            state: h.state,
            posted: h.posted,
            kind: h.kind,
            run_id: h.run_id,
            node_id: h.node_id,
            provider: h.provider,
            vendor_id: h.vendor_id,
        })
        .collect();
    Ok(Json(HoldList { holds }))
}
