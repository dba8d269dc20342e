//! What the server offers: a quote without running, its node types and its provider
//! catalog.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::Value;

use super::ApiError;
use super::runs::{check_submit, member_of, off_peak, refused, session_refusal, wallet_options};
use crate::App;
use crate::keys::Caller;
use crate::lanes::Placing;
use crate::protocol::{NodeQuoteView, NodeTypes, Quote, QuoteReply};
use crate::queue::{prepare, wallet_of};

/// `POST /v1/quote`: the body of a submission; nothing is queued or spent.
pub(crate) async fn quote(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<QuoteReply>, ApiError> {
    let mut req = check_submit(&body)?;
    req.member = member_of(&caller, &req)?;
    super::library::resolve_for_run(&app, &caller, &mut req).await?;
    let workflow = req.workflow.to_string();
    let placing = Placing {
        policy: req.policy.clone().unwrap_or_else(|| "cheapest".into()),
        routes: req.routes.clone(),
        price_at_s: off_peak(&app, &req)?.map(|o| o.start_s),
    };
    let out = app.data.join("quotes");
    let (_, plans) =
        prepare(&app, &caller.tenant, &workflow, &req.set, &placing, req.account.is_some(), out).map_err(refused)?;
    let totals = switchyard_session::plan::totals(&plans);
    let (mut fits, mut verdict) = (None, None);
    if let Some(account) = &req.account {
        let wallet = wallet_options(&app, &wallet_of(&caller.tenant, account), &req);
        let ledger = app.ledger().await.map_err(session_refusal)?;
        let room = switchyard_session::wallet::room(ledger, &wallet).await.map_err(session_refusal)?;
        let v = switchyard_session::wallet::verdict(&totals, &room, req.budget);
        fits = Some(v.fits());
        verdict = Some(v.lines(&totals)[1].clone());
    }
    let nodes = plans
        .iter()
        .flat_map(|p| p.plan.nodes.iter().flatten())
        .map(|placed| {
            let q = &placed.quote;
            NodeQuoteView {
                node: q.node.clone(),
                placement: q.placement.clone(),
                credits: Quote { min: q.credits.0, max: q.credits.1 },
                gco2eq: q.gco2eq,
                why: q.why.clone(),
            }
        })
        .collect();
    Ok(Json(QuoteReply {
        quote: Quote { min: totals.credits.0, max: totals.credits.1 },
        gco2eq: totals.gco2eq,
        makespan_s: totals.makespan_s,
        fits,
        verdict,
        nodes,
    }))
}

/// `GET /v1/nodes`.
pub(crate) async fn nodes(State(app): State<Arc<App>>, _caller: Caller) -> Json<NodeTypes> {
    let nodes = app.registry.specs().filter_map(|s| serde_json::to_value(s).ok()).collect();
    Json(NodeTypes { nodes })
}

/// `GET /v1/catalog`: the provider catalog the server places and prices with.
pub(crate) async fn catalog(State(app): State<Arc<App>>, _caller: Caller) -> Json<Value> {
    Json(app.catalog_json.clone())
}
